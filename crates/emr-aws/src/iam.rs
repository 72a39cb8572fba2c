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
mod tests {
    use super::*;
    use serde_json::json;

    fn expected() -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringLike": {"k:sub": "a b+c*"}}
            }]
        })
    }

    #[test]
    fn decodes_percent_encoded_documents() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%2C%22Condition%22%3A%7B%22StringLike%22%3A%7B%22k%3Asub%22%3A%22a%20b%2Bc%2A%22%7D%7D%7D%5D%7D";
        assert_eq!(parse_policy_document(encoded).expect("decodes"), expected());
    }

    #[test]
    fn accepts_plain_json() {
        let plain = expected().to_string();
        assert_eq!(parse_policy_document(&plain).expect("parses"), expected());
    }

    #[test]
    fn accepts_form_encoded_spaces() {
        let form = "%7B%22Version%22%3A+%222012-10-17%22%2C+%22Statement%22%3A+%5B%5D%7D";
        assert_eq!(
            parse_policy_document(form).expect("decodes"),
            json!({"Version": "2012-10-17", "Statement": []})
        );
    }

    #[test]
    fn rejects_garbage_with_the_json_error() {
        assert!(parse_policy_document("%7Bnot json").is_err());
    }

    mod against_a_scripted_server {
        use std::sync::Arc;

        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        use serde_json::{Value, json};

        use crate::config::AwsClients;
        use crate::iam::{Iam, TrustChange};
        use crate::observer::NoopObserver;
        use crate::test_server::{Reply, TestServer};
        use crate::trust_policy::{
            EmrTrust, TRUST_POLICY_MAX_CHARS, emr_job_role_statement, ensure_statement, policy_size,
        };

        fn get_role_reply(policy: &Value) -> Reply {
            let encoded = utf8_percent_encode(&policy.to_string(), NON_ALPHANUMERIC).to_string();
            Reply::xml(
                200,
                &format!(
                    r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetRoleResult>
    <Role>
      <Path>/jobs/</Path>
      <AssumeRolePolicyDocument>{encoded}</AssumeRolePolicyDocument>
      <RoleId>AROAEXAMPLE</RoleId>
      <RoleName>emr-job-role</RoleName>
      <Arn>arn:aws:iam::123456789012:role/jobs/emr-job-role</Arn>
      <CreateDate>2023-11-14T22:13:20Z</CreateDate>
    </Role>
  </GetRoleResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</GetRoleResponse>"#
                ),
            )
        }

        fn update_reply() -> Reply {
            Reply::xml(
                200,
                r#"<UpdateAssumeRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata>
</UpdateAssumeRolePolicyResponse>"#,
            )
        }

        fn original_policy() -> Value {
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole"
                }]
            })
        }

        fn statement() -> Value {
            emr_job_role_statement(&EmrTrust {
                partition: "aws",
                account_id: "123456789012",
                oidc_provider: "oidc.eks.us-east-1.amazonaws.com/id/ABC",
                namespace: "spark",
                role_name: "emr-job-role",
            })
        }

        async fn iam(server: &TestServer) -> Iam {
            let config = server.sdk_config(1).await;
            Iam::new(
                AwsClients::from_sdk_config(&config).iam,
                Arc::new(NoopObserver),
            )
        }

        #[tokio::test]
        async fn get_role_decodes_the_trust_policy() {
            let server = TestServer::start(vec![get_role_reply(&original_policy())]);
            let role = iam(&server).await.get_role("emr-job-role").await.unwrap();
            assert_eq!(role.name, "emr-job-role");
            assert_eq!(role.arn, "arn:aws:iam::123456789012:role/jobs/emr-job-role");
            assert_eq!(role.trust_policy, original_policy());
            assert_eq!(
                server.requests()[0].form_field("Action").as_deref(),
                Some("GetRole")
            );
        }

        #[tokio::test]
        async fn a_statement_that_would_overflow_the_quota_is_never_sent() {
            // Statements for other namespaces until one more would pass IAM's 2048 characters.
            let mut policy = original_policy();
            let mut n = 0;
            loop {
                let stmt = emr_job_role_statement(&EmrTrust {
                    partition: "aws",
                    account_id: "123456789012",
                    oidc_provider: "oidc.eks.us-east-1.amazonaws.com/id/ABC",
                    namespace: &format!("tenant-{n}"),
                    role_name: "emr-job-role",
                });
                let grown = ensure_statement(&policy, &stmt).unwrap();
                if policy_size(&grown.to_string()) > TRUST_POLICY_MAX_CHARS {
                    break;
                }
                policy = grown;
                n += 1;
            }
            let server = TestServer::start(vec![get_role_reply(&policy)]);
            let err = iam(&server)
                .await
                .ensure_trust_statement("emr-job-role", &statement())
                .await
                .unwrap_err();
            assert!(err.is_validation(), "{err}");
            assert!(err.to_string().contains("quota of 2048"), "{err}");
            let actions: Vec<_> = server
                .requests()
                .iter()
                .map(|r| r.form_field("Action"))
                .collect();
            assert_eq!(actions, [Some("GetRole".to_owned())]);
        }

        #[tokio::test]
        async fn a_raised_quota_lets_a_larger_policy_through() {
            let big = json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "s".repeat(2100), "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"
            }]});
            let server = TestServer::start(vec![update_reply()]);
            let strict = iam(&server).await;
            assert!(strict.update_assume_role_policy("r", &big).await.is_err());
            assert!(server.requests().is_empty());
            let raised = strict.with_trust_policy_max_chars(4096);
            raised.update_assume_role_policy("r", &big).await.unwrap();
            assert_eq!(server.requests().len(), 1);
        }

        #[tokio::test]
        async fn ensure_writes_once_and_then_never_again() {
            let updated = ensure_statement(&original_policy(), &statement()).unwrap();
            let server = TestServer::start(vec![
                get_role_reply(&original_policy()),
                update_reply(),
                get_role_reply(&updated),
            ]);
            let iam = iam(&server).await;
            assert_eq!(
                iam.ensure_trust_statement("emr-job-role", &statement())
                    .await
                    .unwrap(),
                TrustChange::Updated
            );
            assert_eq!(
                iam.ensure_trust_statement("emr-job-role", &statement())
                    .await
                    .unwrap(),
                TrustChange::Unchanged
            );
            let requests = server.requests();
            assert_eq!(requests.len(), 3);
            let write = &requests[1];
            assert_eq!(
                write.form_field("Action").as_deref(),
                Some("UpdateAssumeRolePolicy")
            );
            assert_eq!(
                write.form_field("RoleName").as_deref(),
                Some("emr-job-role")
            );
            let written: Value =
                serde_json::from_str(&write.form_field("PolicyDocument").unwrap()).unwrap();
            assert_eq!(written, updated);
        }

        #[tokio::test]
        async fn a_missing_role_is_not_found() {
            let server = TestServer::start(vec![Reply::xml(
                404,
                r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name nope cannot be found.</Message></Error>
  <RequestId>r-3</RequestId>
</ErrorResponse>"#,
            )]);
            let err = iam(&server).await.get_role("nope").await.unwrap_err();
            assert!(err.is_not_found(), "{err:?}");
            assert_eq!(err.iam_action(), "iam:GetRole");
            assert_eq!(
                err.to_string(),
                "GetRole of IAM role nope failed: NoSuchEntity: The role with name nope cannot be found. (request id req-xml)"
            );
        }

        #[tokio::test]
        async fn a_denied_update_names_the_missing_permission() {
            let server = TestServer::start(vec![
                get_role_reply(&original_policy()),
                Reply::xml(
                    403,
                    r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform: iam:UpdateAssumeRolePolicy</Message></Error>
  <RequestId>r-4</RequestId>
</ErrorResponse>"#,
                ),
            ]);
            let err = iam(&server)
                .await
                .ensure_trust_statement("emr-job-role", &statement())
                .await
                .unwrap_err();
            assert!(err.is_access_denied());
            assert_eq!(err.iam_action(), "iam:UpdateAssumeRolePolicy");
        }

        #[tokio::test]
        async fn lists_oidc_provider_arns() {
            let server = TestServer::start(vec![Reply::xml(
                200,
                r#"<ListOpenIDConnectProvidersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListOpenIDConnectProvidersResult>
    <OpenIDConnectProviderList>
      <member><Arn>arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC</Arn></member>
    </OpenIDConnectProviderList>
  </ListOpenIDConnectProvidersResult>
  <ResponseMetadata><RequestId>r-5</RequestId></ResponseMetadata>
</ListOpenIDConnectProvidersResponse>"#,
            )]);
            let arns = iam(&server).await.list_oidc_providers().await.unwrap();
            assert_eq!(
                arns,
                ["arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"]
            );
        }
    }
}
