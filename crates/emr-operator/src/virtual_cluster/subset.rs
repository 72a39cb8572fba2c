//! Whether an object already says everything the operator would apply, so an unchanged child
//! costs one GET and no write (and no Event).

use serde_json::Value;

/// Whether `actual` contains `desired`: every field of `desired` is in `actual` with a
/// containing value; lists must have the same length and contain element-wise (a list with an
/// extra entry is a change, as server-side apply would replace an atomic list).
pub fn contains(actual: &Value, desired: &Value) -> bool {
    match (actual, desired) {
        (Value::Object(a), Value::Object(d)) => d
            .iter()
            .all(|(key, dv)| a.get(key).is_some_and(|av| contains(av, dv)) || dv.is_null()),
        (Value::Array(a), Value::Array(d)) => {
            a.len() == d.len() && a.iter().zip(d).all(|(av, dv)| contains(av, dv))
        }
        _ => actual == desired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_fields_in_actual_are_fine() {
        let actual = json!({"metadata": {"name": "x", "uid": "u", "labels": {"a": "1", "b": "2"}}});
        assert!(contains(
            &actual,
            &json!({"metadata": {"labels": {"a": "1"}}})
        ));
    }

    #[test]
    fn differing_or_missing_values_are_not() {
        let actual = json!({"metadata": {"labels": {"a": "1"}}});
        assert!(!contains(
            &actual,
            &json!({"metadata": {"labels": {"a": "2"}}})
        ));
        assert!(!contains(
            &actual,
            &json!({"metadata": {"annotations": {"a": "1"}}})
        ));
    }

    #[test]
    fn lists_compare_by_length_and_position() {
        let actual = json!({"rules": [{"verbs": ["get"], "x": 1}, {"verbs": ["list"]}]});
        assert!(contains(
            &actual,
            &json!({"rules": [{"verbs": ["get"]}, {"verbs": ["list"]}]})
        ));
        assert!(!contains(&actual, &json!({"rules": [{"verbs": ["get"]}]})));
        assert!(!contains(
            &actual,
            &json!({"rules": [{"verbs": ["list"]}, {"verbs": ["get"]}]})
        ));
    }

    #[test]
    fn null_in_desired_means_nothing_wanted() {
        assert!(contains(&json!({}), &json!({"status": null})));
    }
}
