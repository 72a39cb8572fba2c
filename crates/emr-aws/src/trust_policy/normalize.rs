//! A canonical form of a policy statement, so that two statements IAM treats alike compare
//! equal. Without it an operator re-appends its statement whenever someone (or the AWS CLI)
//! wrote an equivalent one in another shape, and the trust policy grows on every reconcile
//! until it hits IAM's size limit.

use serde_json::{Map, Value};

/// Normalizes what IAM itself treats as equivalent:
/// - `Sid` is a label, not a permission: dropped;
/// - a one-element list equals its element, and lists of actions, resources, principal values
///   and condition values are sets (order and duplicates do not matter);
/// - action names and condition key names are case-insensitive;
/// - condition values compare as strings (`true` equals `"true"`).
///
/// Objects compare regardless of key order already (serde_json maps).
pub(super) fn canonical_statement(statement: &Value) -> Value {
    let Value::Object(fields) = statement else {
        return statement.clone();
    };
    let mut canonical = Map::new();
    for (key, value) in fields {
        let normalized = match key.as_str() {
            "Sid" => continue,
            "Action" | "NotAction" => lowercase_set(value),
            "Resource" | "NotResource" => string_set(value),
            "Principal" | "NotPrincipal" => canonical_principal(value),
            "Condition" => canonical_condition(value),
            _ => value.clone(),
        };
        canonical.insert(key.clone(), normalized);
    }
    Value::Object(canonical)
}

fn canonical_principal(principal: &Value) -> Value {
    match principal {
        Value::Object(by_type) => Value::Object(
            by_type
                .iter()
                .map(|(kind, ids)| (kind.clone(), string_set(ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn canonical_condition(condition: &Value) -> Value {
    let Value::Object(operators) = condition else {
        return condition.clone();
    };
    Value::Object(
        operators
            .iter()
            .map(|(operator, keys)| {
                let keys = match keys {
                    Value::Object(keys) => Value::Object(
                        keys.iter()
                            .map(|(key, values)| (key.to_lowercase(), string_set(values)))
                            .collect(),
                    ),
                    other => other.clone(),
                };
                (operator.clone(), keys)
            })
            .collect(),
    )
}

fn lowercase_set(value: &Value) -> Value {
    set_of(value, |s| s.to_lowercase())
}

fn string_set(value: &Value) -> Value {
    set_of(value, str::to_owned)
}

fn set_of(value: &Value, normalize: impl Fn(&str) -> String) -> Value {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let mut set: Vec<String> = items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => normalize(s),
            other => normalize(&other.to_string()),
        })
        .collect();
    set.sort_unstable();
    set.dedup();
    Value::Array(set.into_iter().map(Value::String).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sid_list_shapes_order_and_case_do_not_matter() {
        let a = json!({
            "Sid": "x",
            "Effect": "Allow",
            "Principal": {"Federated": ["arn:p"]},
            "Action": ["sts:AssumeRoleWithWebIdentity"],
            "Condition": {"StringEquals": {"K:aud": ["sts.amazonaws.com"], "k:sub": "s"}}
        });
        let b = json!({
            "Condition": {"StringEquals": {"k:sub": ["s"], "k:AUD": "sts.amazonaws.com"}},
            "Action": "STS:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": "arn:p"},
            "Effect": "Allow"
        });
        assert_eq!(canonical_statement(&a), canonical_statement(&b));
    }

    #[test]
    fn different_values_stay_different() {
        let a = json!({"Effect": "Allow", "Condition": {"StringLike": {"k:sub": "a"}}});
        let b = json!({"Effect": "Allow", "Condition": {"StringEquals": {"k:sub": "a"}}});
        let c = json!({"Effect": "Allow", "Condition": {"StringLike": {"k:sub": "A"}}});
        assert_ne!(canonical_statement(&a), canonical_statement(&b));
        assert_ne!(canonical_statement(&a), canonical_statement(&c));
    }

    #[test]
    fn scalars_compare_as_strings() {
        let a = json!({"Condition": {"Bool": {"aws:SecureTransport": true}}});
        let b = json!({"Condition": {"Bool": {"aws:securetransport": ["true"]}}});
        assert_eq!(canonical_statement(&a), canonical_statement(&b));
    }
}
