//! Checks of a spec that the CRD schema cannot express on every apiserver (rules that only CEL
//! can state, and CEL is dropped by apiservers older than 1.25). The operator runs them before
//! acting and turns failures into an `InvalidSpec` condition naming the field.
//!
//! One file of about 400 lines on purpose: each rule is a few lines, and the whole list is what a
//! reviewer compares with the CRDs' CEL rules (tests in `check/tests.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::labels::is_reserved_key;
use crate::patterns::{MAX_TAG_KEY, MAX_TAG_VALUE, MAX_TAGS};
use crate::spark_job_run::SparkJobRunSpec;
use crate::virtual_cluster::VirtualClusterSpec;

/// A spec field that is wrong, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, e.g. `spec.tags[aws:owner]`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Joins field errors into one line for a condition message.
pub fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How many tags the operator adds to what it creates in EMR (`labels::TAG_OBJECT`, `labels::TAG_UID`).
pub const OPERATOR_TAG_COUNT: usize = 2;

/// Tag keys the operator writes itself; users may not set them.
const RESERVED_TAG_PREFIXES: [&str; 2] = ["emr-on-eks.dev/", "aws:"];

/// Whether `text` matches the service model's `.*\S.*` as EMR applies it: a Java pattern matched
/// against the whole value, where `.` stops at line terminators and `\S` is anything but ASCII
/// white space. So: one line, with at least one non-space character.
pub fn is_one_nonblank_line(text: &str) -> bool {
    const JAVA_LINE_TERMINATORS: [char; 5] = ['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'];
    const JAVA_ASCII_SPACE: [char; 6] = [' ', '\t', '\n', '\u{0B}', '\u{0C}', '\r'];
    !text.contains(JAVA_LINE_TERMINATORS) && text.chars().any(|c| !JAVA_ASCII_SPACE.contains(&c))
}

/// A field EMR holds to `.*\S.*` (see [`is_one_nonblank_line`]), named when it breaks it.
fn check_one_line(field: String, text: &str, errors: &mut Vec<FieldError>) {
    if !is_one_nonblank_line(text) {
        errors.push(FieldError {
            field,
            message: "must be one line with a non-space character: EMR refuses line breaks and blank values here".into(),
        });
    }
}

fn check_tags(field: &str, tags: &BTreeMap<String, String>, errors: &mut Vec<FieldError>) {
    if tags.len() > MAX_TAGS {
        errors.push(FieldError {
            field: field.to_string(),
            message: format!("at most {MAX_TAGS} tags are allowed, found {}", tags.len()),
        });
    }
    for (key, value) in tags {
        let at = format!("{field}[{key}]");
        if key.is_empty() || key.chars().count() > MAX_TAG_KEY {
            errors.push(FieldError {
                field: at.clone(),
                message: format!("tag keys must be 1 to {MAX_TAG_KEY} characters"),
            });
        }
        if value.chars().count() > MAX_TAG_VALUE {
            errors.push(FieldError {
                field: at.clone(),
                message: format!("tag values must be at most {MAX_TAG_VALUE} characters"),
            });
        }
        // EMR takes an empty value, but not a blank or multi-line key or value (`.*\S.*`).
        if !key.is_empty() && !is_one_nonblank_line(key)
            || !value.is_empty() && !is_one_nonblank_line(value)
        {
            errors.push(FieldError {
                field: at.clone(),
                message: "tag keys and values must be one line with a non-space character (a value may be empty)".into(),
            });
        }
        if let Some(prefix) = RESERVED_TAG_PREFIXES.iter().find(|p| key.starts_with(**p)) {
            errors.push(FieldError {
                field: at,
                message: format!("the tag prefix {prefix:?} is reserved"),
            });
        }
    }
}

/// Checks a SparkJobRun spec.
pub fn spark_job_run(spec: &SparkJobRunSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_tags("spec.tags", &spec.tags, &mut errors);
    match (&spec.virtual_cluster.name, &spec.virtual_cluster.id) {
        (Some(_), Some(_)) | (None, None) => errors.push(FieldError {
            field: "spec.virtualCluster".into(),
            message: "set exactly one of name or id".into(),
        }),
        _ => {}
    }
    if spec.job_template_ref.is_some() {
        // The template supplies these (the CEL rule says so too, on apiservers that run it).
        let supplied = [
            ("spec.jobTemplateId", spec.job_template_id.is_some()),
            ("spec.executionRoleArn", spec.execution_role_arn.is_some()),
            ("spec.releaseLabel", spec.release_label.is_some()),
            ("spec.jobDriver", spec.job_driver.is_some()),
        ];
        for (field, _) in supplied.iter().filter(|(_, set)| *set) {
            errors.push(FieldError {
                field: (*field).into(),
                message:
                    "must not be set with spec.jobTemplateRef: the SparkJobTemplate supplies it"
                        .into(),
            });
        }
    } else if spec.execution_role_arn.is_none() {
        errors.push(FieldError {
            field: "spec.executionRoleArn".into(),
            message: "required unless spec.jobTemplateRef is set".into(),
        });
    }
    if spec.job_template_id.is_none() && spec.job_template_ref.is_none() {
        if spec.release_label.is_none() {
            errors.push(FieldError {
                field: "spec.releaseLabel".into(),
                message: "required unless spec.jobTemplateId is set".into(),
            });
        }
        if spec.job_driver.is_none() {
            errors.push(FieldError {
                field: "spec.jobDriver".into(),
                message: "required unless spec.jobTemplateId is set".into(),
            });
        }
    }
    if let Some(driver) = &spec.job_driver {
        let count = usize::from(driver.spark_submit_job_driver.is_some())
            + usize::from(driver.spark_sql_job_driver.is_some());
        if count != 1 {
            errors.push(FieldError {
                field: "spec.jobDriver".into(),
                message: "set exactly one of sparkSubmitJobDriver or sparkSqlJobDriver".into(),
            });
        }
    }
    check_map_keys(spec, &mut errors);
    check_single_line_texts(spec, &mut errors);
    if let Some(policy) = &spec.resubmit_policy
        && policy.max_backoff_seconds < policy.backoff_seconds
    {
        errors.push(FieldError {
            field: "spec.resubmitPolicy.maxBackoffSeconds".into(),
            message: "must not be smaller than backoffSeconds".into(),
        });
    }
    errors
}

/// The operator's own keys may not come from the spec: they mark what the operator owns, and
/// (schema CEL aside, which apiservers before 1.25 drop) nothing else stops a tenant setting them.
fn check_namespace_metadata(
    field: &str,
    entries: &BTreeMap<String, String>,
    errors: &mut Vec<FieldError>,
) {
    for key in entries.keys().filter(|k| is_reserved_key(k)) {
        errors.push(FieldError {
            field: format!("{field}[{key}]"),
            message: "the key is reserved for the operator's own markers".into(),
        });
    }
}

/// EMR's limits on map keys, which a structural schema cannot bound: configuration property
/// names 1-1024 characters, job template parameter names 1-512.
fn check_map_keys(spec: &SparkJobRunSpec, errors: &mut Vec<FieldError>) {
    let mut long_keys = |field: &str, keys: &mut dyn Iterator<Item = &String>, max: usize| {
        let mut bad = keys.filter(|k| k.is_empty() || k.chars().count() > max);
        if let Some(key) = bad.next() {
            let shown: String = key.chars().take(40).collect();
            errors.push(FieldError {
                field: field.to_owned(),
                message: format!("names must be 1 to {max} characters (\"{shown}...\")"),
            });
        }
    };
    let configurations = spec
        .configuration_overrides
        .iter()
        .flat_map(|o| &o.application_configuration);
    for (i, c) in configurations.enumerate() {
        let field = format!("spec.configurationOverrides.applicationConfiguration[{i}].properties");
        let nested = c.configurations.iter().flat_map(|n| {
            n.properties
                .keys()
                .chain(n.configurations.iter().flat_map(|l| l.properties.keys()))
        });
        long_keys(&field, &mut c.properties.keys().chain(nested), 1024);
    }
    long_keys(
        "spec.jobTemplateParameters",
        &mut spec.job_template_parameters.keys(),
        512,
    );
}

/// The texts of a job EMR holds to `.*\S.*`, which the CRD's patterns (one regex for every
/// apiserver, without Java's line semantics) let through with a line break or blank.
fn check_single_line_texts(spec: &SparkJobRunSpec, errors: &mut Vec<FieldError>) {
    let driver = spec.job_driver.as_ref();
    if let Some(submit) = driver.and_then(|d| d.spark_submit_job_driver.as_ref()) {
        let at = "spec.jobDriver.sparkSubmitJobDriver";
        check_one_line(format!("{at}.entryPoint"), &submit.entry_point, errors);
        for (i, arg) in submit.entry_point_arguments.iter().enumerate() {
            check_one_line(format!("{at}.entryPointArguments[{i}]"), arg, errors);
        }
        if let Some(params) = &submit.spark_submit_parameters {
            check_one_line(format!("{at}.sparkSubmitParameters"), params, errors);
        }
    }
    if let Some(sql) = driver.and_then(|d| d.spark_sql_job_driver.as_ref()) {
        let at = "spec.jobDriver.sparkSqlJobDriver";
        if let Some(entry) = &sql.entry_point {
            check_one_line(format!("{at}.entryPoint"), entry, errors);
        }
        if let Some(params) = &sql.spark_sql_parameters {
            check_one_line(format!("{at}.sparkSqlParameters"), params, errors);
        }
    }
    let configurations = spec
        .configuration_overrides
        .iter()
        .flat_map(|o| &o.application_configuration);
    for (i, c) in configurations.enumerate() {
        let at = format!("spec.configurationOverrides.applicationConfiguration[{i}]");
        let nested = c.configurations.iter().flat_map(|n| {
            std::iter::once((&n.classification, &n.properties)).chain(
                n.configurations
                    .iter()
                    .map(|l| (&l.classification, &l.properties)),
            )
        });
        for (classification, properties) in
            std::iter::once((&c.classification, &c.properties)).chain(nested)
        {
            check_one_line(format!("{at}.classification"), classification, errors);
            for (key, value) in properties {
                check_one_line(format!("{at}.properties[{key}]"), value, errors);
            }
        }
    }
    for (key, value) in &spec.job_template_parameters {
        check_one_line(format!("spec.jobTemplateParameters[{key}]"), value, errors);
    }
}

/// Checks a VirtualCluster spec.
pub fn virtual_cluster(spec: &VirtualClusterSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_tags("spec.tags", &spec.tags, &mut errors);
    // The operator adds its own two tags (the object and its uid) to CreateVirtualCluster.
    if spec.tags.len().saturating_add(OPERATOR_TAG_COUNT) > MAX_TAGS {
        errors.push(FieldError {
            field: "spec.tags".into(),
            message: format!(
                "at most {} tags are allowed: EMR takes {MAX_TAGS} and the operator adds {OPERATOR_TAG_COUNT}",
                MAX_TAGS - OPERATOR_TAG_COUNT
            ),
        });
    }
    if spec.security_configuration.is_some() && spec.security_configuration_id.is_some() {
        errors.push(FieldError {
            field: "spec.securityConfiguration".into(),
            message: "set at most one of securityConfiguration and securityConfigurationId".into(),
        });
    }
    check_namespace_metadata("spec.namespace.labels", &spec.namespace.labels, &mut errors);
    check_namespace_metadata(
        "spec.namespace.annotations",
        &spec.namespace.annotations,
        &mut errors,
    );
    let mut seen = BTreeSet::new();
    for (i, role) in spec.execution_roles.iter().enumerate() {
        if !seen.insert(role.arn.as_str()) {
            errors.push(FieldError {
                field: format!("spec.executionRoles[{i}].arn"),
                message: format!("{} is listed twice", role.arn),
            });
        }
    }
    let mut names = BTreeSet::new();
    for (i, sa) in spec.service_accounts.iter().enumerate() {
        if !names.insert(sa.name.as_str()) {
            errors.push(FieldError {
                field: format!("spec.serviceAccounts[{i}].name"),
                message: format!("{} is listed twice", sa.name),
            });
        }
        if sa.name.starts_with("emr-containers-sa-") {
            errors.push(FieldError {
                field: format!("spec.serviceAccounts[{i}].name"),
                message: "names starting with emr-containers-sa- belong to EMR".into(),
            });
        }
    }
    if let Some(policy) = spec
        .guard_rails
        .as_ref()
        .and_then(|r| r.network_policy.as_ref())
    {
        crate::virtual_cluster::check_network_policy(policy, &mut errors);
    }
    errors
}

/// Checks a SparkJobTemplate spec: tags (the operator adds its own three), parameter names, and
/// that every `${param}` used is declared (EMR refuses the template otherwise).
pub fn spark_job_template(
    spec: &crate::spark_job_template::SparkJobTemplateSpec,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_emr_object_tags(&spec.tags, &mut errors);
    check_tags(
        "spec.jobTemplateData.jobTags",
        &spec.job_template_data.job_tags,
        &mut errors,
    );
    let data = &spec.job_template_data;
    for name in data.parameter_configuration.keys() {
        let valid = !name.is_empty()
            && name.len() <= 512
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-#".contains(c));
        if !valid {
            errors.push(FieldError {
                field: format!("spec.jobTemplateData.parameterConfiguration[{name}]"),
                message: "parameter names are 1-512 characters of letters, digits and ._-#".into(),
            });
        }
    }
    let text = serde_json::to_string(&(
        &data.execution_role_arn,
        &data.release_label,
        &data.job_driver,
        &data.configuration_overrides,
        &data.job_tags,
        &spec.kms_key_arn,
    ))
    .unwrap_or_default();
    for name in placeholders(&text) {
        if !data.parameter_configuration.contains_key(&name) {
            errors.push(FieldError {
                field: "spec.jobTemplateData.parameterConfiguration".into(),
                message: format!("${{{name}}} is used but not declared"),
            });
        }
    }
    let driver = &data.job_driver;
    if driver.spark_submit_job_driver.is_some() == driver.spark_sql_job_driver.is_some() {
        errors.push(FieldError {
            field: "spec.jobTemplateData.jobDriver".into(),
            message: "set exactly one of sparkSubmitJobDriver or sparkSqlJobDriver".into(),
        });
    }
    errors
}

/// Checks a SecurityConfiguration spec.
pub fn security_configuration(
    spec: &crate::security_configuration::SecurityConfigurationSpec,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_emr_object_tags(&spec.tags, &mut errors);
    errors
}

/// How many tags the operator puts on a job template or security configuration (object, uid,
/// generation).
pub const EMR_OBJECT_TAG_COUNT: usize = 3;

fn check_emr_object_tags(tags: &BTreeMap<String, String>, errors: &mut Vec<FieldError>) {
    check_tags("spec.tags", tags, errors);
    if tags.len().saturating_add(EMR_OBJECT_TAG_COUNT) > MAX_TAGS {
        errors.push(FieldError {
            field: "spec.tags".into(),
            message: format!(
                "at most {} tags are allowed: EMR takes {MAX_TAGS} and the operator adds {EMR_OBJECT_TAG_COUNT}",
                MAX_TAGS - EMR_OBJECT_TAG_COUNT
            ),
        });
    }
}

/// The names of the `${name}` placeholders in `text`.
pub fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start.saturating_add(2)..];
        let Some(end) = after.find('}') else { break };
        found.insert(after[..end].to_owned());
        rest = &after[end.saturating_add(1)..];
    }
    found
}

#[cfg(test)]
mod tests;
