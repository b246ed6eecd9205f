//! Readable differences between two values, as a unified diff of their
//! pretty JSON.

use serde::Serialize;

/// A unified diff of `left` and `right` rendered as pretty JSON, headed
/// with their names. Empty when they render the same.
pub fn json_diff<T: Serialize>(left_name: &str, left: &T, right_name: &str, right: &T) -> String {
    let left = serde_json::to_string_pretty(left).expect("views serialize") + "\n";
    let right = serde_json::to_string_pretty(right).expect("views serialize") + "\n";
    similar::TextDiff::from_lines(&left, &right)
        .unified_diff()
        .context_radius(3)
        .header(left_name, right_name)
        .to_string()
}
