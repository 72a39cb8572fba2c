use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_emrcontainers::operation::start_job_run::StartJobRunInput;
use aws_sdk_emrcontainers::types::{
    CloudWatchMonitoringConfiguration, Configuration, ConfigurationOverrides,
    ContainerLogRotationConfiguration, JobDriver, MonitoringConfiguration, PersistentAppUi,
    RetryPolicyConfiguration, S3MonitoringConfiguration, SparkSubmitJobDriver,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::json;

use super::*;
use crate::config::AwsClients;
use crate::error::FaultKind;
use crate::observer::CallOutcome;
use crate::test_server::{Reply, TestServer};

#[derive(Default)]
struct Recording(Mutex<Vec<(Operation, CallOutcome)>>);

impl CallObserver for Recording {
    fn observe(&self, op: Operation, outcome: CallOutcome, _elapsed: Duration) {
        self.0.lock().unwrap().push((op, outcome));
    }
}

impl Recording {
    fn calls(&self) -> Vec<(Operation, CallOutcome)> {
        self.0.lock().unwrap().clone()
    }
}

/// Sees the operation input exactly as the SDK is about to serialize it.
#[derive(Clone, Debug, Default)]
struct CaptureInput(Arc<Mutex<Option<StartJobRunInput>>>);

impl Intercept for CaptureInput {
    fn name(&self) -> &'static str {
        "CaptureInput"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(input) = context.input().downcast_ref::<StartJobRunInput>() {
            *self.0.lock().unwrap() = Some(input.clone());
        }
        Ok(())
    }
}

async fn emr(server: &TestServer, max_attempts: u32) -> (EmrContainers, Arc<Recording>) {
    let config = server.sdk_config(max_attempts).await;
    let observer = Arc::new(Recording::default());
    let clients = AwsClients::from_sdk_config(&config);
    (
        EmrContainers::new(clients.emr_containers, observer.clone()),
        observer,
    )
}

fn full_input() -> StartJobRunInput {
    StartJobRunInput::builder()
        .name("nightly")
        .virtual_cluster_id("vc-1")
        .client_token("uid-1-attempt-0")
        .execution_role_arn("arn:aws:iam::123456789012:role/emr-job-role")
        .release_label("emr-7.2.0-latest")
        .job_driver(
            JobDriver::builder()
                .spark_submit_job_driver(
                    SparkSubmitJobDriver::builder()
                        .entry_point("s3://bucket/app.py")
                        .entry_point_arguments("--day")
                        .entry_point_arguments("2024-01-01")
                        .spark_submit_parameters("--conf spark.executor.instances=2")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .configuration_overrides(
            ConfigurationOverrides::builder()
                .application_configuration(
                    Configuration::builder()
                        .classification("spark-defaults")
                        .properties("spark.dynamicAllocation.enabled", "false")
                        .build()
                        .unwrap(),
                )
                .monitoring_configuration(
                    MonitoringConfiguration::builder()
                        .persistent_app_ui(PersistentAppUi::Enabled)
                        .cloud_watch_monitoring_configuration(
                            CloudWatchMonitoringConfiguration::builder()
                                .log_group_name("/emr/jobs")
                                .log_stream_name_prefix("nightly")
                                .build()
                                .unwrap(),
                        )
                        .s3_monitoring_configuration(
                            S3MonitoringConfiguration::builder()
                                .log_uri("s3://bucket/logs/")
                                .build()
                                .unwrap(),
                        )
                        .container_log_rotation_configuration(
                            ContainerLogRotationConfiguration::builder()
                                .rotation_size("2GB")
                                .max_files_to_keep(5)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build(),
        )
        .tags("team", "analytics")
        .job_template_id("tmpl-1")
        .job_template_parameters("day", "2024-01-01")
        .retry_policy_configuration(
            RetryPolicyConfiguration::builder()
                .max_attempts(3)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn start_job_run_forwards_every_field() {
    let input = full_input();
    // The fixture must populate every field, or the equality below proves less than it claims.
    assert!(input.name().is_some());
    assert!(input.virtual_cluster_id().is_some());
    assert!(input.client_token().is_some());
    assert!(input.execution_role_arn().is_some());
    assert!(input.release_label().is_some());
    assert!(input.job_driver().is_some());
    assert!(input.configuration_overrides().is_some());
    assert!(input.tags().is_some());
    assert!(input.job_template_id().is_some());
    assert!(input.job_template_parameters().is_some());
    assert!(input.retry_policy_configuration().is_some());

    let server = TestServer::start(vec![Reply::json(
        200,
        json!({"id": "jr-1", "name": "nightly", "arn": "arn:jr-1", "virtualClusterId": "vc-1"}),
    )]);
    let capture = CaptureInput::default();
    let config = aws_sdk_emrcontainers::config::Builder::from(&server.sdk_config(1).await)
        .interceptor(capture.clone())
        .build();
    let observer = Arc::new(Recording::default());
    let emr = EmrContainers::new(
        aws_sdk_emrcontainers::Client::from_conf(config),
        observer.clone(),
    );

    let started = emr.start_job_run(input.clone()).await.unwrap();

    assert_eq!(
        started,
        StartedJobRun {
            id: "jr-1".into(),
            arn: Some("arn:jr-1".into()),
            name: Some("nightly".into()),
            virtual_cluster_id: "vc-1".into(),
        }
    );
    assert_eq!(capture.0.lock().unwrap().as_ref(), Some(&input));

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/virtualclusters/vc-1/jobruns");
    let body = requests[0].json();
    assert_eq!(body["name"], "nightly");
    assert_eq!(body["clientToken"], "uid-1-attempt-0");
    assert_eq!(
        body["executionRoleArn"],
        "arn:aws:iam::123456789012:role/emr-job-role"
    );
    assert_eq!(body["releaseLabel"], "emr-7.2.0-latest");
    assert_eq!(
        body["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"],
        json!(["--day", "2024-01-01"])
    );
    assert_eq!(
        body["configurationOverrides"]["monitoringConfiguration"]["persistentAppUI"],
        "ENABLED"
    );
    assert_eq!(
        body["configurationOverrides"]["applicationConfiguration"][0]["properties"]["spark.dynamicAllocation.enabled"],
        "false"
    );
    assert_eq!(body["tags"], json!({"team": "analytics"}));
    assert_eq!(body["jobTemplateId"], "tmpl-1");
    assert_eq!(body["jobTemplateParameters"], json!({"day": "2024-01-01"}));
    assert_eq!(body["retryPolicyConfiguration"], json!({"maxAttempts": 3}));
    assert_eq!(
        observer.calls(),
        [(Operation::StartJobRun, CallOutcome::Ok)]
    );
}

#[tokio::test]
async fn start_job_run_without_an_id_in_the_answer_is_an_error() {
    let server = TestServer::start(vec![Reply::json(200, json!({"name": "nightly"}))]);
    let (emr, _) = emr(&server, 1).await;
    let err = emr.start_job_run(full_input()).await.unwrap_err();
    assert!(matches!(err, AwsError::StartJobRun { .. }), "{err:?}");
    assert_eq!(err.kind(), FaultKind::Other);
}

#[tokio::test]
async fn describe_job_run_maps_the_answer() {
    let server = TestServer::start(vec![Reply::json(
        200,
        json!({"jobRun": {
            "id": "jr-1",
            "name": "nightly",
            "virtualClusterId": "vc-1",
            "arn": "arn:jr-1",
            "state": "FAILED",
            "failureReason": "USER_ERROR",
            "stateDetails": "Job failed with exit code 1",
            "createdAt": "2023-11-14T22:13:20Z",
            "finishedAt": "2023-11-14T22:15:00Z",
            "retryPolicyExecution": {"currentAttemptCount": 2},
            "clientToken": "uid-1-attempt-0"
        }}),
    )]);
    let (emr, _) = emr(&server, 1).await;
    let run = emr.describe_job_run("vc-1", "jr-1").await.unwrap();
    assert_eq!(
        server.requests()[0].path,
        "/virtualclusters/vc-1/jobruns/jr-1"
    );
    assert_eq!(run.state, JobRunState::Failed);
    assert_eq!(run.failure_reason.as_deref(), Some("USER_ERROR"));
    assert_eq!(run.retry_attempts, Some(2));
    assert_eq!(run.created_at.map(|t| t.timestamp()), Some(1_700_000_000));
    assert_eq!(run.finished_at.map(|t| t.timestamp()), Some(1_700_000_100));
    assert_eq!(run.client_token.as_deref(), Some("uid-1-attempt-0"));
}

#[tokio::test]
async fn describe_of_a_missing_job_run_is_not_found_with_context() {
    let server = TestServer::start(vec![Reply::json_error(
        400,
        "ResourceNotFoundException",
        "Job run jr-9 does not exist",
    )]);
    let (emr, observer) = emr(&server, 3).await;
    let err = emr.describe_job_run("vc-1", "jr-9").await.unwrap_err();
    assert!(err.is_not_found());
    assert!(!err.is_retryable());
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert_eq!(err.cause().request_id.as_deref(), Some("req-1234"));
    assert_eq!(
        err.to_string(),
        "DescribeJobRun of job run jr-9 in virtual cluster vc-1 failed: \
         ResourceNotFoundException: Job run jr-9 does not exist (request id req-1234)"
    );
    assert_eq!(server.requests().len(), 1, "not-found is not retried");
    assert_eq!(
        observer.calls(),
        [(
            Operation::DescribeJobRun,
            CallOutcome::Fault(FaultKind::NotFound)
        )]
    );
}

#[tokio::test]
async fn describe_job_template_maps_the_role_and_parameters() {
    let server = TestServer::start(vec![Reply::json(
        200,
        json!({"jobTemplate": {
            "id": "tmpl-1",
            "name": "nightly",
            "jobTemplateData": {
                "executionRoleArn": "arn:aws:iam::123456789012:role/${role}",
                "releaseLabel": "emr-7.2.0-latest",
                "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "s3://b/x.py"}},
                "parameterConfiguration": {
                    "role": {"type": "STRING", "defaultValue": "etl"},
                    "day": {"type": "STRING"}
                }
            }
        }}),
    )]);
    let (emr, _) = emr(&server, 1).await;
    let template = emr.describe_job_template("tmpl-1").await.unwrap();
    assert_eq!(server.requests()[0].path, "/jobtemplates/tmpl-1");
    assert_eq!(template.id, "tmpl-1");
    assert_eq!(
        template.execution_role_arn,
        "arn:aws:iam::123456789012:role/${role}"
    );
    assert_eq!(
        template.parameter_defaults,
        BTreeMap::from([
            ("day".to_string(), None),
            ("role".to_string(), Some("etl".to_string()))
        ])
    );
}

#[tokio::test]
async fn describe_of_a_missing_job_template_is_not_found() {
    let server = TestServer::start(vec![Reply::json_error(
        400,
        "ResourceNotFoundException",
        "Job template t-9 doesn't exist.",
    )]);
    let (emr, observer) = emr(&server, 3).await;
    let err = emr.describe_job_template("t-9").await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.iam_action(), "emr-containers:DescribeJobTemplate");
    assert!(
        err.to_string()
            .starts_with("DescribeJobTemplate of job template t-9 failed:"),
        "{err}"
    );
    assert_eq!(
        observer.calls(),
        [(
            Operation::DescribeJobTemplate,
            CallOutcome::Fault(FaultKind::NotFound)
        )]
    );
}

#[tokio::test]
async fn list_job_runs_follows_pages_and_filters() {
    let run = |id: &str, state: &str| json!({"id": id, "virtualClusterId": "vc-1", "state": state});
    let server = TestServer::start(vec![
        Reply::json(
            200,
            json!({"jobRuns": [run("a", "RUNNING"), run("b", "PENDING")], "nextToken": "t1"}),
        ),
        Reply::json(200, json!({"jobRuns": [run("c", "SUBMITTED")]})),
    ]);
    let (emr, observer) = emr(&server, 1).await;
    let after = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let runs = emr
        .list_job_runs(
            "vc-1",
            &[
                JobRunState::Running,
                JobRunState::Pending,
                JobRunState::Running,
            ],
            Some(after),
        )
        .await
        .unwrap();
    let ids: Vec<_> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(runs[2].state, JobRunState::Submitted);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0]
            .path
            .starts_with("/virtualclusters/vc-1/jobruns?")
    );
    assert_eq!(
        requests[0].path.matches("states=").count(),
        2,
        "deduplicated"
    );
    assert!(requests[0].path.contains("states=RUNNING"));
    assert!(requests[0].path.contains("states=PENDING"));
    assert!(
        requests[0]
            .path
            .contains("createdAfter=2023-11-14T22%3A13%3A20Z")
    );
    assert!(!requests[0].path.contains("nextToken"));
    assert!(requests[1].path.contains("nextToken=t1"));
    assert_eq!(observer.calls().len(), 2, "each page is one observed call");
}

#[tokio::test]
async fn throttling_by_http_429_is_retried_by_the_sdk() {
    let server = TestServer::start(vec![
        Reply::json_error(429, "EKSRequestThrottledException", "slow down"),
        Reply::json(200, json!({"id": "jr-1", "virtualClusterId": "vc-1"})),
    ]);
    let (emr, _) = emr(&server, 3).await;
    emr.cancel_job_run("vc-1", "jr-1").await.unwrap();
    assert_eq!(server.requests().len(), 2);
    assert_eq!(server.requests()[0].method, "DELETE");
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_reported_as_throttled() {
    let server = TestServer::start(vec![
        Reply::json_error(429, "EKSRequestThrottledException", "slow down"),
        Reply::json_error(429, "EKSRequestThrottledException", "slow down"),
    ]);
    let (emr, observer) = emr(&server, 2).await;
    let err = emr.cancel_job_run("vc-1", "jr-1").await.unwrap_err();
    assert!(err.is_throttled());
    assert!(err.is_retryable());
    assert!(matches!(err, AwsError::CancelJobRun { ref job_run_id, .. } if job_run_id == "jr-1"));
    assert_eq!(server.requests().len(), 2);
    assert_eq!(
        observer.calls(),
        [(
            Operation::CancelJobRun,
            CallOutcome::Fault(FaultKind::Throttled)
        )]
    );
}

#[tokio::test]
async fn create_virtual_cluster_sends_an_eks_provider() {
    let server = TestServer::start(vec![Reply::json(
        200,
        json!({"id": "vc-9", "name": "team-a", "arn": "arn:vc-9"}),
    )]);
    let (emr, _) = emr(&server, 1).await;
    let created = emr
        .create_virtual_cluster(&CreateVirtualClusterRequest {
            name: "team-a".into(),
            eks_cluster_name: "prod".into(),
            namespace: "spark-a".into(),
            client_token: "uid-7".into(),
            tags: BTreeMap::from([("owner".to_owned(), "a".to_owned())]),
            security_configuration_id: Some("sc-1".into()),
        })
        .await
        .unwrap();
    assert_eq!(created.id, "vc-9");
    let request = &server.requests()[0];
    assert_eq!(request.path, "/virtualclusters");
    assert_eq!(
        request.json(),
        json!({
            "name": "team-a",
            "clientToken": "uid-7",
            "containerProvider": {"type": "EKS", "id": "prod", "info": {"eksInfo": {"namespace": "spark-a"}}},
            "tags": {"owner": "a"},
            "securityConfigurationId": "sc-1"
        })
    );
}

#[tokio::test]
async fn list_virtual_clusters_filters_by_eks_cluster() {
    let server = TestServer::start(vec![Reply::json(
        200,
        json!({"virtualClusters": [{
            "id": "vc-1",
            "name": "team-a",
            "state": "RUNNING",
            "containerProvider": {"type": "EKS", "id": "prod", "info": {"eksInfo": {"namespace": "spark-a"}}},
            "createdAt": "2023-11-14T22:13:20Z",
            "tags": {"owner": "a"}
        }]}),
    )]);
    let (emr, _) = emr(&server, 1).await;
    let clusters = emr
        .list_virtual_clusters("prod", &[VirtualClusterState::Running])
        .await
        .unwrap();
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0].namespace.as_deref(), Some("spark-a"));
    assert_eq!(clusters[0].eks_cluster_name.as_deref(), Some("prod"));
    let path = &server.requests()[0].path;
    assert!(path.contains("containerProviderType=EKS"), "{path}");
    assert!(path.contains("containerProviderId=prod"), "{path}");
    assert!(path.contains("states=RUNNING"), "{path}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    // Bind then drop, so the port is very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .empty_test_environment()
        .test_credentials()
        .region(aws_types::region::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let observer = Arc::new(Recording::default());
    let emr = EmrContainers::new(
        AwsClients::from_sdk_config(&config).emr_containers,
        observer.clone(),
    );
    let err = emr.delete_virtual_cluster("vc-1").await.unwrap_err();
    assert_eq!(err.kind(), FaultKind::Unavailable);
    assert!(err.is_retryable());
    assert_eq!(err.code(), None);
    assert_eq!(
        observer.calls(),
        [(
            Operation::DeleteVirtualCluster,
            CallOutcome::Fault(FaultKind::Unavailable)
        )]
    );
}
