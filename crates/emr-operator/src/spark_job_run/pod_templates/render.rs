//! A template as the YAML file Spark reads (`apiVersion: v1`, `kind: Pod`, metadata, spec) and
//! its SHA-256, which names it in the store. Deterministic: the typed struct serializes its
//! fields in one order and its maps sorted, so the same template always gives the same bytes,
//! the same hash and the same S3 object.

use emr_api::pod_template::PodRole;
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::validate::{Invalid, MAX_TEMPLATE_BYTES, too_large};

/// One role's template, ready to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub role: PodRole,
    pub yaml: Vec<u8>,
    /// Lower-case hex SHA-256 of `yaml`.
    pub sha256: String,
}

/// The file's shape: a Pod without a name (Spark names the pods).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodFile<'a> {
    api_version: &'static str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a ObjectMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<serde_json::Value>,
}

/// The template's YAML and hash; `field` names it in a refusal.
pub fn render(role: PodRole, template: &PodTemplateSpec, field: &str) -> Result<Rendered, Invalid> {
    let file = PodFile {
        api_version: "v1",
        kind: "Pod",
        metadata: template.metadata.as_ref(),
        spec: template.spec.as_ref().map(spec_value),
    };
    let mut options = serde_saphyr::SerializerOptions::default();
    // Long strings (a command line) stay on one line rather than folded at a width.
    options.folded_wrap_chars = usize::MAX;
    let yaml = serde_saphyr::to_string_with_options(&file, options).map_err(|e| Invalid {
        field: field.to_owned(),
        message: format!("cannot be written as YAML: {e}"),
    })?;
    if yaml.len() > MAX_TEMPLATE_BYTES {
        return Err(too_large(field.to_owned(), yaml.len()));
    }
    let sha256 = hex(&Sha256::digest(yaml.as_bytes()));
    Ok(Rendered {
        role,
        yaml: yaml.into_bytes(),
        sha256,
    })
}

/// The spec as written, without the empty `containers` list k8s-openapi always serializes (it
/// is required in a Pod): a template that names no container says nothing about them.
fn spec_value(spec: &PodSpec) -> serde_json::Value {
    let mut value = serde_json::to_value(spec).unwrap_or_default();
    if let Some(object) = value.as_object_mut()
        && object
            .get("containers")
            .and_then(serde_json::Value::as_array)
            .is_some_and(Vec::is_empty)
    {
        object.remove("containers");
    }
    value
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(value: serde_json::Value) -> PodTemplateSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_yaml_is_a_pod_spark_can_read() {
        let t = template(json!({
            "metadata": {"labels": {"b": "2", "a": "1"}},
            "spec": {"priorityClassName": "high", "containers": [{"name": "spark-kubernetes-driver"}]}
        }));
        let r = render(PodRole::Driver, &t, "f").unwrap();
        let text = String::from_utf8(r.yaml.clone()).unwrap();
        assert_eq!(
            text,
            "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    a: \"1\"\n    b: \"2\"\nspec:\n  containers:\n  - name: spark-kubernetes-driver\n  priorityClassName: high\n"
        );
        let back: k8s_openapi::api::core::v1::Pod = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back.spec, t.spec);
        assert_eq!(r.sha256.len(), 64);
    }

    #[test]
    fn the_same_template_gives_the_same_bytes_whatever_the_key_order() {
        let a = template(
            json!({"spec": {"nodeSelector": {"x": "1", "y": "2"}, "priorityClassName": "p"}}),
        );
        let b = template(
            json!({"spec": {"priorityClassName": "p", "nodeSelector": {"y": "2", "x": "1"}}}),
        );
        let ra = render(PodRole::Executor, &a, "f").unwrap();
        let rb = render(PodRole::Executor, &b, "f").unwrap();
        assert_eq!(ra, rb);
        let c = template(json!({"spec": {"priorityClassName": "q"}}));
        assert_ne!(
            render(PodRole::Executor, &c, "f").unwrap().sha256,
            ra.sha256
        );
    }

    #[test]
    fn the_hash_is_sha256_of_the_bytes() {
        let t = template(json!({}));
        let r = render(PodRole::Driver, &t, "f").unwrap();
        assert_eq!(r.yaml, b"apiVersion: v1\nkind: Pod\n");
        let only_selector = template(json!({"spec": {"nodeSelector": {"a": "b"}}}));
        let text = render(PodRole::Driver, &only_selector, "f").unwrap().yaml;
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "apiVersion: v1\nkind: Pod\nspec:\n  nodeSelector:\n    a: b\n",
            "no empty containers list"
        );
        // From `printf 'apiVersion: v1\nkind: Pod\n' | sha256sum`.
        assert_eq!(
            r.sha256,
            "6fddcec1b8f52e00a16ea3cc2d01201e82a9221799819d1fdc755eb69f4932aa"
        );
    }
}
