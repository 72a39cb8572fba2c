//! Job templates as plain Rust values, and how EMR resolves a template's `${param}` placeholders
//! for one run: the run's `jobTemplateParameters[param]`, else the parameter's `defaultValue`.

use std::collections::BTreeMap;

/// What the operator needs of a job template (DescribeJobTemplate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobTemplateInfo {
    pub id: String,
    pub name: Option<String>,
    /// As stored: may hold `${param}` placeholders.
    pub execution_role_arn: String,
    /// `parameterConfiguration`: each declared parameter's default, if any.
    pub parameter_defaults: BTreeMap<String, Option<String>>,
    /// The template's own tags (the operator's prove which object made it).
    pub tags: BTreeMap<String, String>,
}

/// Why a template's value cannot be resolved for a run (EMR refuses such a StartJobRun too).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateParameterError {
    #[error("job template parameter {0} has no value and no default")]
    Missing(String),
    #[error("job template parameter {0} is not declared by the template")]
    Undeclared(String),
    #[error("unterminated placeholder in {0:?}")]
    Unterminated(String),
}

impl JobTemplateInfo {
    /// The execution role a run with parameters `given` gets.
    pub fn execution_role(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<String, TemplateParameterError> {
        if let Some(name) = given
            .keys()
            .find(|k| !self.parameter_defaults.contains_key(*k))
        {
            return Err(TemplateParameterError::Undeclared(name.clone()));
        }
        substitute(&self.execution_role_arn, |name| {
            given
                .get(name)
                .cloned()
                .or_else(|| self.parameter_defaults.get(name).cloned().flatten())
        })
    }
}

/// `value` with every `${name}` replaced by `lookup(name)`.
pub fn substitute(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, TemplateParameterError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(TemplateParameterError::Unterminated(value.to_owned()));
        };
        let name = &after[..end];
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None => return Err(TemplateParameterError::Missing(name.to_owned())),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

pub(crate) fn job_template_info(
    template: &aws_sdk_emrcontainers::types::JobTemplate,
) -> Option<JobTemplateInfo> {
    let data = template.job_template_data()?;
    Some(JobTemplateInfo {
        id: template.id()?.to_owned(),
        name: template.name().map(str::to_owned),
        execution_role_arn: data.execution_role_arn().to_owned(),
        parameter_defaults: data
            .parameter_configuration()
            .map(|params| {
                params
                    .iter()
                    .map(|(k, v)| (k.clone(), v.default_value().map(str::to_owned)))
                    .collect()
            })
            .unwrap_or_default(),
        tags: template
            .tags()
            .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(role: &str, params: &[(&str, Option<&str>)]) -> JobTemplateInfo {
        JobTemplateInfo {
            id: "t".into(),
            name: None,
            execution_role_arn: role.into(),
            parameter_defaults: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
                .collect(),
            tags: BTreeMap::new(),
        }
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_fixed_role_is_the_role() {
        let t = template("arn:aws:iam::1:role/r", &[]);
        assert_eq!(
            t.execution_role(&given(&[])),
            Ok("arn:aws:iam::1:role/r".into())
        );
    }

    #[test]
    fn parameters_then_defaults() {
        let t = template(
            "arn:aws:iam::${acct}:role/${name}",
            &[("acct", Some("1")), ("name", None)],
        );
        assert_eq!(
            t.execution_role(&given(&[("name", "x")])),
            Ok("arn:aws:iam::1:role/x".into())
        );
        assert_eq!(
            t.execution_role(&given(&[("name", "x"), ("acct", "2")])),
            Ok("arn:aws:iam::2:role/x".into())
        );
        assert_eq!(
            t.execution_role(&given(&[])),
            Err(TemplateParameterError::Missing("name".into()))
        );
    }

    #[test]
    fn undeclared_and_malformed_are_errors() {
        let t = template("${role}", &[("role", Some("r"))]);
        assert_eq!(
            t.execution_role(&given(&[("other", "x")])),
            Err(TemplateParameterError::Undeclared("other".into()))
        );
        let bad = template("arn:${role", &[("role", Some("r"))]);
        assert!(matches!(
            bad.execution_role(&given(&[])),
            Err(TemplateParameterError::Unterminated(_))
        ));
        // A substituted value is not substituted again.
        let t = template("${role}", &[("role", None)]);
        assert_eq!(
            t.execution_role(&given(&[("role", "${role}")])),
            Ok("${role}".into())
        );
    }
}
