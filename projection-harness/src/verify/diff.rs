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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_names_both_sides_and_shows_the_changed_lines() {
        let diff = json_diff("model", &AnyView::new(vec![1, 2]), "group-x", &AnyView::new(vec![1, 3]));
        assert_eq!(diff, "--- model\n+++ group-x\n@@ -1,4 +1,4 @@\n [\n   1,\n-  2\n+  3\n ]\n");
    }

    #[test]
    fn unequal_views_that_print_alike_are_said_to() {
        #[derive(Clone, Debug, serde::Serialize)]
        struct Hidden {
            #[serde(skip)]
            n: u8,
        }
        impl PartialEq for Hidden {
            fn eq(&self, other: &Self) -> bool {
                self.n == other.n
            }
        }
        let diff = json_diff("a", &AnyView::new(Hidden { n: 1 }), "b", &AnyView::new(Hidden { n: 2 }));
        assert!(diff.starts_with("a and b are unequal but print the same JSON:"), "{diff}");
    }
}
