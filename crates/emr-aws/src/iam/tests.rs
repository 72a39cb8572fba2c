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
