//! The informational `PodTemplateStore` condition: where this virtual cluster's jobs' pod
//! templates go, and whether that bucket is in another account. Not rolled up into `Ready`: the
//! operator cannot check what the job roles may read there (their IAM policies and the bucket's
//! policy are theirs), only say what they need. Pure.

use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::virtual_cluster::condition_types::POD_TEMPLATE_STORE;
use emr_api::{VirtualClusterSpec, VirtualClusterStatus};

use crate::spark_job_run::pod_templates::Store;

pub const SAME_ACCOUNT: &str = "SameAccount";
pub const OTHER_ACCOUNT: &str = "OtherAccount";
/// The store cannot be used: every job with an inline template would fail on it.
pub const INVALID_STORE: &str = "InvalidPodTemplateStore";

/// Sets (or, without a store, removes) the condition in `status`.
pub fn set_condition(
    status: &mut VirtualClusterStatus,
    spec: &VirtualClusterSpec,
    generation: Option<i64>,
) {
    let Some(store) = &spec.pod_template_store else {
        status.conditions.retain(|c| c.type_ != POD_TEMPLATE_STORE);
        return;
    };
    let uri = &store.s3_uri;
    let own = status.account_id.as_deref();
    // Said here too, not only on each job that would fail on it.
    if let Err(error) = Store::parse(store, own) {
        condition::set(
            &mut status.conditions,
            Condition::new(
                POD_TEMPLATE_STORE,
                ConditionStatus::False,
                INVALID_STORE,
                format!("spec.{error}: jobs with inline pod templates fail until it is fixed"),
                generation,
            ),
        );
        return;
    }
    let (reason, message) = match (store.expected_bucket_owner.as_deref(), own) {
        (Some(owner), Some(own)) if owner != own => (
            OTHER_ACCOUNT,
            format!(
                "pod templates go to {uri}, a bucket of account {owner}, not this virtual cluster's {own}: \
                 the job execution roles need s3:GetObject there, granted by their IAM policies and by \
                 that bucket's policy (the operator cannot check either)"
            ),
        ),
        (owner, _) => (
            SAME_ACCOUNT,
            format!(
                "pod templates go to {uri} (expected bucket owner {}): the job execution roles need \
                 s3:GetObject there, which the operator cannot check",
                owner.or(own).unwrap_or("not yet known")
            ),
        ),
    };
    condition::set(
        &mut status.conditions,
        Condition::new(
            POD_TEMPLATE_STORE,
            ConditionStatus::True,
            reason,
            &message,
            generation,
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(store: serde_json::Value) -> VirtualClusterSpec {
        serde_json::from_value(json!({
            "eksClusterName": "c", "namespace": {"name": "ns"}, "podTemplateStore": store
        }))
        .unwrap()
    }

    fn status() -> VirtualClusterStatus {
        VirtualClusterStatus {
            account_id: Some("123456789012".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_bucket_of_another_account_is_reported() {
        let mut s = status();
        let other = spec(json!({"s3Uri": "s3://b/p/", "expectedBucketOwner": "210987654321"}));
        set_condition(&mut s, &other, Some(1));
        let c = condition::find(&s.conditions, POD_TEMPLATE_STORE).unwrap();
        assert_eq!(c.reason, OTHER_ACCOUNT);
        assert!(c.message.contains("210987654321"), "{}", c.message);
        assert!(c.message.contains("s3:GetObject"), "{}", c.message);

        let same = spec(json!({"s3Uri": "s3://b/p/"}));
        set_condition(&mut s, &same, Some(2));
        let c = condition::find(&s.conditions, POD_TEMPLATE_STORE).unwrap();
        assert_eq!(c.reason, SAME_ACCOUNT);
        assert!(c.message.contains("123456789012"), "{}", c.message);
    }

    #[test]
    fn a_store_the_jobs_could_not_use_is_reported_on_the_virtual_cluster() {
        let mut s = status();
        let bad = spec(json!({"s3Uri": "s3://b/${env:HOME}/"}));
        set_condition(&mut s, &bad, Some(1));
        let c = condition::find(&s.conditions, POD_TEMPLATE_STORE).unwrap();
        assert_eq!(c.status, ConditionStatus::False);
        assert_eq!(c.reason, INVALID_STORE);
        assert!(
            c.message.starts_with("spec.podTemplateStore.s3Uri"),
            "{}",
            c.message
        );
        let key_without_kms = spec(json!({"s3Uri": "s3://b/p/", "kmsKeyId": "alias/k"}));
        set_condition(&mut s, &key_without_kms, Some(2));
        let c = condition::find(&s.conditions, POD_TEMPLATE_STORE).unwrap();
        assert_eq!(c.reason, INVALID_STORE);
        assert!(c.message.contains("kmsKeyId"), "{}", c.message);
    }

    #[test]
    fn no_store_no_condition() {
        let mut s = status();
        set_condition(&mut s, &spec(json!({"s3Uri": "s3://b/p/"})), Some(1));
        let mut without = spec(json!({"s3Uri": "s3://b/p/"}));
        without.pod_template_store = None;
        set_condition(&mut s, &without, Some(2));
        assert!(condition::find(&s.conditions, POD_TEMPLATE_STORE).is_none());
    }
}
