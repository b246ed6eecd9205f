//! Readable differences between two values, as a unified diff of their
//! pretty JSON.

use crate::domain::AnyView;

/// A unified diff of `left` and `right` rendered as pretty JSON, headed
/// with their names. Empty when they render the same.
pub fn json_diff(left_name: &str, left: &AnyView, right_name: &str, right: &AnyView) -> String {
    let left = left.to_json_pretty() + "\n";
    let right = right.to_json_pretty() + "\n";
    if left == right {
        return format!("{left_name} and {right_name} are unequal but print the same JSON:\n{left}");
    }
    similar::TextDiff::from_lines(&left, &right)
        .unified_diff()
        .context_radius(3)
        .header(left_name, right_name)
        .to_string()
}
