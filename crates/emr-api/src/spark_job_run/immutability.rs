//! "The spec is frozen once the job is submitted, except `rerun`", as a CEL rule for apiservers
//! that enforce `x-kubernetes-validations` (1.25+). The operator enforces the same promise itself
//! by comparing [`super::SparkJobRunSpec::submission_fingerprint`] with the one recorded in status,
//! because older apiservers drop the rule.

use kube::core::{Reason, Rule};

/// The spec fields that may change after submission: they steer the operator, not the job run.
pub const MUTABLE_SPEC_FIELDS: [&str; 4] =
    ["rerun", "ttlSecondsAfterFinished", "suspend", "priority"];

/// Every spec field except [`MUTABLE_SPEC_FIELDS`]. A unit test keeps this list equal to the
/// schema's properties.
pub const IMMUTABLE_SPEC_FIELDS: [&str; 14] = [
    "virtualCluster",
    "name",
    "executionRoleArn",
    "releaseLabel",
    "jobDriver",
    "configurationOverrides",
    "retryPolicyConfiguration",
    "tags",
    "jobTemplateId",
    "jobTemplateRef",
    "jobTemplateParameters",
    "activeDeadlineSeconds",
    "resubmitPolicy",
    "podTemplates",
];

/// The root-level transition rule: once `status.submittedSpecFingerprint` is set, every field but
/// `rerun` must keep its value (an absent field must stay absent).
pub fn immutable_spec_rule() -> Rule {
    let unchanged = IMMUTABLE_SPEC_FIELDS
        .iter()
        .map(|f| {
            format!(
                "(has(self.spec.{f}) == has(oldSelf.spec.{f}) && (!has(self.spec.{f}) || self.spec.{f} == oldSelf.spec.{f}))"
            )
        })
        .collect::<Vec<_>>()
        .join(" && ");
    Rule::new(format!(
        "!has(oldSelf.status) || !has(oldSelf.status.submittedSpecFingerprint) || ({unchanged})"
    ))
    .message(
        "spec is immutable once the job has been submitted; change spec.rerun to run it again, \
         or delete and recreate the SparkJobRun",
    )
    .reason(Reason::FieldValueForbidden)
}
