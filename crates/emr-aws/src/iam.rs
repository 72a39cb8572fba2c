//! IAM: reading and rewriting a role's trust policy, listing OIDC providers.

use std::sync::Arc;

use aws_sdk_iam::Client;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::call::Caller;
use crate::error::{AwsError, AwsFault};
use crate::observer::CallObserver;
use crate::operation::Operation;
use crate::trust_policy::{
    TRUST_POLICY_MAX_CHARS, ensure_statement, policy_size, remove_statement,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleInfo {
    pub name: String,
    pub arn: String,
    /// The parsed trust (assume-role) policy; `Value::Null` if IAM returned none.
    pub trust_policy: Value,
}

/// Whether a trust-policy edit had to write anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustChange {
    Unchanged,
    Updated,
}

#[derive(Clone, Debug)]
pub struct Iam {
    client: Client,
    caller: Caller,
    /// The account's role trust policy length quota (see [`TRUST_POLICY_MAX_CHARS`]).
    trust_policy_max_chars: usize,
}

impl Iam {
    pub fn new(client: Client, observer: Arc<dyn CallObserver>) -> Self {
        Iam {
            client,
            caller: Caller::new(observer),
            trust_policy_max_chars: TRUST_POLICY_MAX_CHARS,
        }
    }

    /// Takes a token from `pacer` before each call (see [`crate::pacing`]).
    pub fn with_pacer(mut self, pacer: crate::pacing::Pacer) -> Self {
        self.caller = self.caller.paced(pacer);
        self
    }

    /// For an account whose trust policy length quota was raised (IAM allows up to 4,096).
    pub fn with_trust_policy_max_chars(mut self, max_chars: usize) -> Self {
        self.trust_policy_max_chars = max_chars;
        self
    }

    /// The underlying SDK client, for calls this crate does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn get_role(&self, role_name: &str) -> Result<RoleInfo, AwsError> {
        let error = |cause| AwsError::GetRole {
            role_name: role_name.to_owned(),
            cause,
        };
        let out = self
            .caller
            .call(
                Operation::GetRole,
                self.client.get_role().role_name(role_name).send(),
            )
            .await
            .map_err(error)?;
        let role = out
            .role()
            .ok_or_else(|| error(AwsFault::malformed_response("GetRole returned no role")))?;
        let trust_policy = match role.assume_role_policy_document() {
            Some(document) => parse_policy_document(document).map_err(|e| {
                error(AwsFault::malformed_response(format!(
                    "the trust policy is not JSON: {e}"
                )))
            })?,
            None => Value::Null,
        };
        Ok(RoleInfo {
            name: role.role_name().to_owned(),
            arn: role.arn().to_owned(),
            trust_policy,
        })
    }

    pub async fn update_assume_role_policy(
        &self,
        role_name: &str,
        policy: &Value,
    ) -> Result<(), AwsError> {
        let document = policy.to_string();
        let size = policy_size(&document);
        let limit = self.trust_policy_max_chars;
        if size > limit {
            return Err(AwsError::UpdateAssumeRolePolicy {
                role_name: role_name.to_owned(),
                cause: AwsFault::invalid_request(format!(
                    "not sent: the trust policy would be {size} characters (white space not counted), over IAM's role trust policy length quota of {limit}; fewer namespaces trusting this role, or shorter namespace names, make it fit"
                )),
            });
        }
        let request = self
            .client
            .update_assume_role_policy()
            .role_name(role_name)
            .policy_document(document);
        self.caller
            .call(Operation::UpdateAssumeRolePolicy, request.send())
            .await
            .map_err(|cause| AwsError::UpdateAssumeRolePolicy {
                role_name: role_name.to_owned(),
                cause,
            })?;
        Ok(())
    }

    /// Adds `statement` to the role's trust policy unless an equivalent one is there; writes
    /// nothing otherwise, so calling it on every reconcile is cheap and never grows the policy.
    ///
    /// IAM offers no conditional write: a concurrent edit between the read and the write is
    /// lost, as with the AWS CLI. Re-reading on the next reconcile repairs it.
    pub async fn ensure_trust_statement(
        &self,
        role_name: &str,
        statement: &Value,
    ) -> Result<TrustChange, AwsError> {
        let role = self.get_role(role_name).await?;
        match ensure_statement(&role.trust_policy, statement) {
            None => Ok(TrustChange::Unchanged),
            Some(updated) => {
                self.update_assume_role_policy(role_name, &updated).await?;
                Ok(TrustChange::Updated)
            }
        }
    }

    /// Removes every statement equivalent to `statement` from the role's trust policy.
    /// IAM rejects an empty trust policy, so removing the last statement fails with a
    /// Validation error rather than leaving the role untrusting.
    pub async fn remove_trust_statement(
        &self,
        role_name: &str,
        statement: &Value,
    ) -> Result<TrustChange, AwsError> {
        let role = self.get_role(role_name).await?;
        match remove_statement(&role.trust_policy, statement) {
            None => Ok(TrustChange::Unchanged),
            Some(updated) => {
                self.update_assume_role_policy(role_name, &updated).await?;
                Ok(TrustChange::Updated)
            }
        }
    }

    /// The ARNs of the account's IAM OIDC identity providers (one per IRSA-enabled cluster).
    pub async fn list_oidc_providers(&self) -> Result<Vec<String>, AwsError> {
        let out = self
            .caller
            .call(
                Operation::ListOpenIdConnectProviders,
                self.client.list_open_id_connect_providers().send(),
            )
            .await
            .map_err(|cause| AwsError::ListOpenIdConnectProviders { cause })?;
        Ok(out
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn().map(str::to_owned))
            .collect())
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986) and the Rust SDK passes them through
/// as is; emulators and older paths return plain JSON. Plain JSON is tried first because a
/// valid JSON document never starts with `%`.
pub(crate) fn parse_policy_document(document: &str) -> Result<Value, serde_json::Error> {
    let plain_error = match serde_json::from_str(document) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let decoded = percent_decode_str(document).decode_utf8_lossy();
    if let Ok(value) = serde_json::from_str(&decoded) {
        return Ok(value);
    }
    // Form encoding writes spaces as '+'; a literal '+' would have been encoded as %2B.
    let form_decoded = percent_decode_str(&document.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned();
    serde_json::from_str(&form_decoded).map_err(|_| plain_error)
}

#[cfg(test)]
mod tests;
