//! The AWS layer against the project's AWS emulator (tests/bed): real requests, real answers.
//! Runs only when `AWS_ENDPOINT_URL` points at an emulator; skipped (with a note) otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use emr_aws::aws_sdk_eks::types::VpcConfigRequest;
use emr_aws::aws_sdk_emrcontainers::operation::start_job_run::StartJobRunInput;
use emr_aws::aws_sdk_emrcontainers::types::{
    JobDriver, RetryPolicyConfiguration, SparkSubmitJobDriver,
};
use emr_aws::trust_policy::{EmrTrust, emr_job_role_statement, irsa_statement};
use emr_aws::{
    Aws, CallObserver, CallOutcome, ClientOptions, CreateVirtualClusterRequest, JobRunState,
    Operation, TrustChange, VirtualClusterState,
};
use serde_json::json;

#[derive(Default)]
struct Counting {
    calls: AtomicUsize,
    faults: AtomicUsize,
}

impl CallObserver for Counting {
    fn observe(&self, _op: Operation, outcome: CallOutcome, _elapsed: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if outcome != CallOutcome::Ok {
            self.faults.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn emulator_configured() -> bool {
    if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
        return true;
    }
    eprintln!(
        "skipping: AWS_ENDPOINT_URL is not set (source .testbed/env after starting tests/bed)"
    );
    false
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

async fn aws(observer: Arc<Counting>) -> Aws {
    // Emulators need not speak for every region; default to the one the bed uses.
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".to_owned());
    let opts = ClientOptions {
        region: Some(region),
        max_attempts: 2,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        operation_timeout: Some(Duration::from_secs(20)),
        ..ClientOptions::default()
    };
    Aws::from_env(opts, observer).await
}

#[tokio::test]
async fn the_whole_chain_against_the_emulator() {
    if !emulator_configured() {
        return;
    }
    let observer = Arc::new(Counting::default());
    let aws = aws(observer.clone()).await;

    // EKS: a cluster with an OIDC issuer, as eksctl would leave it.
    let cluster_name = unique("emr-aws-it");
    aws.eks
        .client()
        .create_cluster()
        .name(&cluster_name)
        .role_arn("arn:aws:iam::123456789012:role/eks-cluster")
        .resources_vpc_config(
            VpcConfigRequest::builder()
                .subnet_ids("subnet-00000001")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let cluster = aws.eks.describe_cluster(&cluster_name).await.unwrap();
    assert_eq!(cluster.name, cluster_name);
    let account = aws.sts.caller_account().await.unwrap();
    assert_eq!(cluster.account_id, account);
    let provider = cluster
        .oidc_provider
        .clone()
        .expect("the emulator's clusters have an OIDC issuer");
    assert!(!provider.starts_with("https://"));

    // IAM: the trust policy is edited semantically and never grows on repeat.
    let role_name = unique("emr-job-role");
    let ec2_trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    });
    aws.iam
        .client()
        .create_role()
        .role_name(&role_name)
        .assume_role_policy_document(ec2_trust.to_string())
        .send()
        .await
        .unwrap();
    let namespace = unique("spark");
    let partition = aws.partition();
    let statement = emr_job_role_statement(&EmrTrust {
        partition,
        account_id: &account,
        oidc_provider: &provider,
        namespace: &namespace,
        role_name: &role_name,
    });
    assert_eq!(
        aws.iam
            .ensure_trust_statement(&role_name, &statement)
            .await
            .unwrap(),
        TrustChange::Updated
    );
    assert_eq!(
        aws.iam
            .ensure_trust_statement(&role_name, &statement)
            .await
            .unwrap(),
        TrustChange::Unchanged
    );
    let role = aws.iam.get_role(&role_name).await.unwrap();
    assert_eq!(
        role.trust_policy["Statement"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(role.trust_policy["Statement"][0], ec2_trust["Statement"][0]);
    let submitter = irsa_statement(partition, &account, &provider, &namespace, "submitter");
    assert_eq!(
        aws.iam
            .ensure_trust_statement(&role_name, &submitter)
            .await
            .unwrap(),
        TrustChange::Updated
    );
    assert_eq!(
        aws.iam
            .remove_trust_statement(&role_name, &submitter)
            .await
            .unwrap(),
        TrustChange::Updated
    );
    let role = aws.iam.get_role(&role_name).await.unwrap();
    assert_eq!(
        role.trust_policy["Statement"].as_array().map(Vec::len),
        Some(2)
    );
    let missing = aws.iam.get_role(&unique("no-such-role")).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    let _ = aws.iam.list_oidc_providers().await.unwrap();

    // EMR on EKS: a virtual cluster and a job run through their lifecycle.
    let created = aws
        .emr
        .create_virtual_cluster(&CreateVirtualClusterRequest {
            name: unique("vc"),
            eks_cluster_name: cluster_name.clone(),
            namespace: namespace.clone(),
            client_token: unique("token"),
            tags: BTreeMap::from([("owner".to_owned(), "emr-aws-it".to_owned())]),
            security_configuration_id: None,
        })
        .await
        .unwrap();
    let vc = aws.emr.describe_virtual_cluster(&created.id).await.unwrap();
    assert_eq!(vc.state, VirtualClusterState::Running);
    assert_eq!(vc.namespace.as_deref(), Some(namespace.as_str()));
    assert_eq!(vc.eks_cluster_name.as_deref(), Some(cluster_name.as_str()));
    let listed = aws
        .emr
        .list_virtual_clusters(&cluster_name, &[VirtualClusterState::Running])
        .await
        .unwrap();
    assert!(listed.iter().any(|c| c.id == created.id));

    let input = StartJobRunInput::builder()
        .name("it-job")
        .virtual_cluster_id(&created.id)
        .client_token(unique("run"))
        .execution_role_arn(&role.arn)
        .release_label("emr-7.2.0-latest")
        .job_driver(
            JobDriver::builder()
                .spark_submit_job_driver(
                    SparkSubmitJobDriver::builder()
                        .entry_point("local:///usr/lib/spark/examples/src/main/python/pi.py")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    let started = aws.emr.start_job_run(input).await.unwrap();
    assert_eq!(started.virtual_cluster_id, created.id);
    let run = aws
        .emr
        .describe_job_run(&created.id, &started.id)
        .await
        .unwrap();
    assert_eq!(run.id, started.id);
    assert_eq!(run.name.as_deref(), Some("it-job"));
    let all = aws.emr.list_job_runs(&created.id, &[], None).await.unwrap();
    assert!(all.iter().any(|r| r.id == started.id));

    if !run.state.is_terminal() {
        aws.emr
            .cancel_job_run(&created.id, &started.id)
            .await
            .unwrap();
        let cancelled = aws
            .emr
            .describe_job_run(&created.id, &started.id)
            .await
            .unwrap();
        assert!(
            matches!(
                cancelled.state,
                JobRunState::Cancelled | JobRunState::CancelPending
            ),
            "{:?}",
            cancelled.state
        );
    }
    let active = aws
        .emr
        .list_job_runs(&created.id, &JobRunState::ACTIVE, None)
        .await
        .unwrap();
    assert!(active.iter().all(|r| !r.state.is_terminal()));

    // A run that fails at once (the bed's scenario tags), started twice with one token.
    let failing = StartJobRunInput::builder()
        .name("it-failing")
        .virtual_cluster_id(&created.id)
        .client_token(unique("failing"))
        .execution_role_arn(&role.arn)
        .release_label("emr-7.2.0-latest")
        .job_driver(
            JobDriver::builder()
                .spark_submit_job_driver(
                    SparkSubmitJobDriver::builder()
                        .entry_point("s3://bucket/app.py")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .retry_policy_configuration(
            RetryPolicyConfiguration::builder()
                .max_attempts(2)
                .build()
                .unwrap(),
        )
        .tags("emulator/outcome", "FAILED")
        .tags("emulator/failure-reason", "USER_ERROR")
        .tags("emulator/pending-seconds", "0")
        .tags("emulator/submitted-seconds", "0")
        .tags("emulator/run-seconds", "0")
        .build()
        .unwrap();
    let first = aws.emr.start_job_run(failing.clone()).await.unwrap();
    let again = aws.emr.start_job_run(failing).await.unwrap();
    assert_eq!(first.id, again.id, "same clientToken, same job run");
    let failed = aws
        .emr
        .describe_job_run(&created.id, &first.id)
        .await
        .unwrap();
    assert_eq!(failed.state, JobRunState::Failed);
    assert_eq!(failed.failure_reason.as_deref(), Some("USER_ERROR"));
    assert!(failed.finished_at.is_some());
    assert!(failed.created_at.is_some());
    assert_eq!(failed.retry_attempts, Some(1));
    let finished = aws
        .emr
        .list_job_runs(&created.id, &[JobRunState::Failed], None)
        .await
        .unwrap();
    assert_eq!(
        finished.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [first.id.as_str()]
    );

    let unknown = aws
        .emr
        .describe_job_run(&created.id, "0000000000000000000")
        .await
        .unwrap_err();
    assert_eq!(unknown.operation(), Operation::DescribeJobRun);
    assert!(unknown.is_not_found(), "{unknown}");

    aws.emr.delete_virtual_cluster(&created.id).await.unwrap();
    let deleted = aws.emr.describe_virtual_cluster(&created.id).await.unwrap();
    assert!(
        matches!(
            deleted.state,
            VirtualClusterState::Terminating | VirtualClusterState::Terminated
        ),
        "{:?}",
        deleted.state
    );

    assert!(observer.calls.load(Ordering::Relaxed) >= 20);
    assert!(observer.faults.load(Ordering::Relaxed) >= 2);
}

/// Job templates and security configurations through this crate: created once per client
/// token, described with their tags, deleted, and a second delete is `is_not_found()`.
#[tokio::test]
async fn job_templates_and_security_configurations_are_created_once_and_deleted() {
    use emr_aws::CreateEmrObject;
    use emr_aws::aws_sdk_emrcontainers::types as sdk;
    if !emulator_configured() {
        return;
    }
    let aws = aws(Arc::new(Counting::default())).await;
    let tags = BTreeMap::from([("emr-on-eks.dev/uid".to_owned(), unique("uid"))]);
    let data = sdk::JobTemplateData::builder()
        .execution_role_arn("${role}")
        .release_label("emr-7.2.0-latest")
        .job_driver(
            JobDriver::builder()
                .spark_submit_job_driver(
                    SparkSubmitJobDriver::builder()
                        .entry_point("local:///pi.py")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .parameter_configuration(
            "role",
            sdk::TemplateParameterConfiguration::builder().build(),
        )
        .build()
        .unwrap();
    let request = CreateEmrObject {
        name: unique("tmpl"),
        client_token: unique("token"),
        data,
        tags: tags.clone(),
    };
    let first = aws
        .emr
        .create_job_template(request.clone(), None)
        .await
        .expect("create");
    let again = aws
        .emr
        .create_job_template(request, None)
        .await
        .expect("create again");
    assert_eq!(first.id, again.id, "one template per client token");
    let described = aws
        .emr
        .describe_job_template(&first.id)
        .await
        .expect("describe");
    assert_eq!(described.tags, tags);
    assert_eq!(
        described.parameter_defaults,
        BTreeMap::from([("role".to_owned(), None)])
    );
    aws.emr
        .delete_job_template(&first.id)
        .await
        .expect("delete");
    let gone = aws.emr.delete_job_template(&first.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert_eq!(gone.operation(), Operation::DeleteJobTemplate);

    let tls = sdk::TlsCertificateConfiguration::builder()
        .certificate_provider_type(sdk::CertificateProviderType::Pem)
        .public_certificate_secret_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:pub")
        .private_certificate_secret_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:key")
        .build();
    let data = sdk::SecurityConfigurationData::builder()
        .authorization_configuration(
            sdk::AuthorizationConfiguration::builder()
                .encryption_configuration(
                    sdk::EncryptionConfiguration::builder()
                        .in_transit_encryption_configuration(
                            sdk::InTransitEncryptionConfiguration::builder()
                                .tls_certificate_configuration(tls)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build();
    let request = CreateEmrObject {
        name: unique("tls"),
        client_token: unique("token"),
        data,
        tags: tags.clone(),
    };
    let config = aws
        .emr
        .create_security_configuration(request.clone())
        .await
        .expect("create");
    let again = aws
        .emr
        .create_security_configuration(request)
        .await
        .expect("create again");
    assert_eq!(config.id, again.id);
    let described = aws
        .emr
        .describe_security_configuration(&config.id)
        .await
        .expect("describe");
    assert_eq!(described.tags, tags);
    aws.emr
        .delete_security_configuration(&config.id)
        .await
        .expect("delete");
    let gone = aws
        .emr
        .describe_security_configuration(&config.id)
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}
