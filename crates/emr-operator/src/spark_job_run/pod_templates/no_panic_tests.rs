//! Property tests: no template a tenant can write (any JSON the apiserver might let through)
//! makes the checks or the rendering panic, and a template that passes always renders to the
//! same bytes.

use emr_api::pod_template::{PodRole, PodTemplate};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::render;
use super::select::{Chosen, Origin};
use super::validate;
use crate::hostile_values::{extreme_i64, text};

/// Keys that mean something in a pod template, so generated values reach the typed parse.
const KEYS: [&str; 16] = [
    "metadata",
    "spec",
    "labels",
    "annotations",
    "namespace",
    "containers",
    "name",
    "image",
    "ports",
    "containerPort",
    "priorityClassName",
    "nodeSelector",
    "tolerations",
    "volumes",
    "resources",
    "limits",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        extreme_i64().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text(40).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..5).prop_map(
                |pairs| {
                    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_template_is_checked_and_rendered_without_panicking(value in json_value()) {
        let template = PodTemplate(value);
        let chosen = Chosen { role: PodRole::Driver, template: &template, origin: Origin::Job };
        if let Ok(typed) = validate::parse(&chosen, "ns") {
            let _ = validate::priority_class(&typed);
            let once = render::render(PodRole::Driver, &typed, "f");
            let twice = render::render(PodRole::Driver, &typed, "f");
            prop_assert_eq!(once, twice);
        }
    }
}
