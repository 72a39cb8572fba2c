//! The operator's settings: one struct, parsed by the binary from flags and environment.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything an operator instance can be told. Each flag also reads an `EMR_OPERATOR_*`
/// environment variable, so a Helm chart can set them either way.
#[derive(Clone, Debug, clap::Args)]
pub struct OperatorConfig {
    /// Only SparkJobRuns in these namespaces (comma-separated); all namespaces when empty.
    #[arg(long, env = "EMR_OPERATOR_WATCH_NAMESPACES", value_delimiter = ',')]
    pub watch_namespaces: Vec<String>,

    /// Only objects (VirtualClusters and SparkJobRuns) matching this label selector, e.g. `team=a`.
    #[arg(long, env = "EMR_OPERATOR_SELECTOR")]
    pub selector: Option<String>,

    /// Let SparkJobRuns name a raw EMR virtual cluster id instead of a VirtualCluster object.
    /// Off by default: a raw id bypasses the VirtualCluster's namespace and role checks.
    #[arg(long, env = "EMR_OPERATOR_ALLOW_RAW_VIRTUAL_CLUSTER_IDS")]
    pub allow_raw_virtual_cluster_ids: bool,

    /// Whether the operator maintains EMR's entry in `kube-system/aws-auth` (VirtualClusters with
    /// `emrAccess.mode: AwsAuthConfigMap`). Off (the chart's `rbac.awsAuthConfigMap: false`):
    /// aws-auth is neither watched nor read, and such VirtualClusters report `AwsAuthDisabled`.
    #[arg(long, env = "EMR_OPERATOR_AWS_AUTH", default_value_t = true, action = clap::ArgAction::Set)]
    pub aws_auth: bool,

    /// How often an active job run's state is refreshed once it is past its first minutes.
    #[arg(long, env = "EMR_OPERATOR_POLL_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// How often a young job run (started less than `young_job_age` ago) is refreshed.
    #[arg(long, env = "EMR_OPERATOR_YOUNG_POLL_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub young_poll_interval: Duration,

    /// How long a job run counts as young.
    #[arg(long, env = "EMR_OPERATOR_YOUNG_JOB_AGE", default_value = "3m", value_parser = parse_duration)]
    pub young_job_age: Duration,

    /// How often a Ready VirtualCluster is re-checked for drift with no event to trigger it.
    #[arg(long, env = "EMR_OPERATOR_RESYNC_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub resync_interval: Duration,

    /// How many objects of one kind are reconciled at once (SparkJobRuns: per queue, one for new
    /// objects and one for runs whose state changed).
    #[arg(long, env = "EMR_OPERATOR_CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,

    /// The ClusterRole holding EMR's rules (eksctl's `emr-containers` Role) that the operator
    /// binds to the user `emr-containers` in each virtual cluster's namespace. The chart creates
    /// it and grants the operator `bind` on it alone.
    #[arg(
        long,
        env = "EMR_OPERATOR_EMR_CONTAINERS_CLUSTER_ROLE",
        default_value = DEFAULT_EMR_CONTAINERS_CLUSTER_ROLE,
        value_parser = parse_object_name
    )]
    pub emr_containers_cluster_role: String,

    /// AWS region; defaults to the standard AWS configuration chain.
    #[arg(long, env = "EMR_OPERATOR_AWS_REGION")]
    pub aws_region: Option<String>,

    /// Endpoint for every AWS service (an emulator); `AWS_ENDPOINT_URL` works too.
    #[arg(long, env = "EMR_OPERATOR_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,

    /// The account's IAM role trust policy length quota (characters, white space not counted):
    /// 2048 unless raised through Service Quotas (at most 4096). A trust policy edit that would
    /// pass it is refused with a condition instead of being sent.
    #[arg(
        long,
        env = "EMR_OPERATOR_IAM_TRUST_POLICY_MAX_CHARS",
        default_value_t = emr_aws::trust_policy::TRUST_POLICY_MAX_CHARS,
        value_parser = parse_trust_policy_max_chars
    )]
    pub iam_trust_policy_max_chars: usize,

    /// Attempts per AWS call including the first (the SDK's own retries).
    #[arg(long, env = "EMR_OPERATOR_AWS_MAX_ATTEMPTS", default_value_t = 3)]
    pub aws_max_attempts: u32,

    /// Client-side rate limits per AWS operation, `OPERATION=RATE[/BURST]` (calls per second,
    /// burst default twice the rate), comma-separated; each one replaces that operation's
    /// default. A call waits for a token before it is sent, so a burst of new objects leaves at
    /// a steady pace instead of being throttled. AWS throttles EMR on EKS calls per account and
    /// Region with token buckets (burst and refill rate, as described for EMR at
    /// <https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-service-limits-what-are.html>),
    /// but publishes no per-operation rates for emr-containers: its quota page
    /// <https://docs.aws.amazon.com/emr/latest/EMR-on-EKS-DevelopmentGuide/service-quotas.html>
    /// lists endpoints and resource quotas only. Read your account's values in the Service
    /// Quotas console, keep these below them, and lower when other tools share the account.
    #[arg(
        long = "aws-rate-limit",
        env = "EMR_OPERATOR_AWS_RATE_LIMITS",
        value_delimiter = ',',
        value_parser = emr_aws::parse_rate_limit
    )]
    pub aws_rate_limits: Vec<(emr_aws::Operation, emr_aws::Rate)>,

    /// Whether AWS calls are paced at all (`--aws-rate-limit` and its defaults).
    #[arg(long, env = "EMR_OPERATOR_AWS_PACING", default_value_t = true, action = clap::ArgAction::Set)]
    pub aws_pacing: bool,

    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    #[arg(
        long,
        env = "EMR_OPERATOR_METRICS_ADDRESS",
        default_value = "0.0.0.0:8080"
    )]
    pub metrics_address: SocketAddr,

    /// Elect a leader on a Lease so that only one replica acts at a time.
    #[arg(long, env = "EMR_OPERATOR_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,

    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "EMR_OPERATOR_LEASE_NAME",
        default_value = "emr-on-eks-operator"
    )]
    pub lease_name: String,

    /// Namespace of the leader-election Lease (defaults to the pod's namespace, else `default`).
    #[arg(long, env = "EMR_OPERATOR_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// How long a leader's Lease is valid without renewal; a standby takes over after it.
    #[arg(long, env = "EMR_OPERATOR_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,

    /// How long the leader goes on without renewing its Lease before it stops (the process
    /// exits); must end well before the lease duration. Default: 2/3 of the lease duration.
    #[arg(long, env = "EMR_OPERATOR_LEASE_RENEW_DEADLINE", value_parser = parse_duration)]
    pub lease_renew_deadline: Option<Duration>,

    /// How often the leader renews its Lease and a standby looks at it. Default: 2/15 of the
    /// lease duration (2s of 15s).
    #[arg(long, env = "EMR_OPERATOR_LEASE_RETRY_PERIOD", value_parser = parse_duration)]
    pub lease_retry_period: Option<Duration>,

    /// Timeout for opening a connection to the Kubernetes apiserver.
    #[arg(long, env = "EMR_OPERATOR_KUBE_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub kube_connect_timeout: Duration,

    /// How long the apiserver may stay silent on a connection (counted from the last byte sent
    /// or received). Must exceed the watches' own idle timeout (295s), since a quiet watch
    /// legitimately sends nothing until the apiserver ends it after 290s.
    #[arg(long, env = "EMR_OPERATOR_KUBE_READ_TIMEOUT", default_value = "300s", value_parser = parse_duration)]
    pub kube_read_timeout: Duration,

    /// How long a request may wait to be written to the apiserver's connection.
    #[arg(long, env = "EMR_OPERATOR_KUBE_WRITE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub kube_write_timeout: Duration,

    /// This replica's identity in the Lease (defaults to `POD_NAME`, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
}

/// The default client-side rate limits (calls per second / burst). Mutations get less than
/// reads; calls made once per VirtualCluster pass get little, since nothing needs them fast.
pub const DEFAULT_AWS_RATE_LIMITS: [(emr_aws::Operation, f64, u32); 24] = {
    use emr_aws::Operation::*;
    [
        (StartJobRun, 50.0, 100),
        (CancelJobRun, 10.0, 20),
        (DescribeJobRun, 20.0, 40),
        (ListJobRuns, 10.0, 20),
        (DescribeJobTemplate, 10.0, 20),
        (CreateVirtualCluster, 1.0, 5),
        (DescribeVirtualCluster, 5.0, 10),
        (ListVirtualClusters, 5.0, 10),
        (DeleteVirtualCluster, 1.0, 5),
        (DescribeCluster, 5.0, 10),
        (GetCallerIdentity, 5.0, 10),
        (GetRole, 5.0, 10),
        (UpdateAssumeRolePolicy, 1.0, 5),
        (ListOpenIdConnectProviders, 2.0, 5),
        // Templates and security configurations change with Git commits, not with jobs.
        (CreateJobTemplate, 1.0, 5),
        (DeleteJobTemplate, 1.0, 5),
        (CreateSecurityConfiguration, 1.0, 5),
        (DescribeSecurityConfiguration, 5.0, 10),
        (DeleteSecurityConfiguration, 1.0, 5),
        // EKS runs one profile operation per cluster at a time anyway.
        (CreateFargateProfile, 1.0, 5),
        (DescribeFargateProfile, 5.0, 10),
        (DeleteFargateProfile, 1.0, 5),
        // Pod templates: one HeadObject per job, a PutObject only for new content.
        (HeadObject, 50.0, 100),
        (PutObject, 20.0, 40),
    ]
};

impl OperatorConfig {
    /// The pacing of AWS calls: the defaults, each replaced by a `--aws-rate-limit` for its
    /// operation; nothing paced with `--aws-pacing=false`.
    pub fn aws_pacer(&self) -> emr_aws::Pacer {
        if !self.aws_pacing {
            return emr_aws::Pacer::default();
        }
        let mut rates: std::collections::HashMap<_, _> = DEFAULT_AWS_RATE_LIMITS
            .iter()
            .map(|&(op, per_second, burst)| (op, emr_aws::Rate { per_second, burst }))
            .collect();
        rates.extend(self.aws_rate_limits.iter().copied());
        emr_aws::Pacer::new(rates)
    }
}

/// The chart's name for the emr-containers ClusterRole in a release named `emr-on-eks-operator`.
pub const DEFAULT_EMR_CONTAINERS_CLUSTER_ROLE: &str = "emr-on-eks-operator-emr-containers";

/// An RBAC object name: non-empty, at most 253 characters, no `/` or `%` and not `.` or `..`
/// (what the apiserver accepts as a path segment).
pub fn parse_object_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 253
        && text != "."
        && text != ".."
        && !text.contains(['/', '%'])
        && !text.chars().any(char::is_whitespace);
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not a valid ClusterRole name"))
    }
}

/// Parses `90s`, `5m`, `1h`, `250ms` or a plain number of seconds.
/// IAM's largest role trust policy length quota, as Service Quotas can raise it.
const MAX_TRUST_POLICY_QUOTA: usize = 4096;

fn parse_trust_policy_max_chars(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_TRUST_POLICY_QUOTA).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?} is not a number of characters from 1 to {MAX_TRUST_POLICY_QUOTA} (IAM's largest trust policy quota)"
        )),
    }
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 30s, 5m or 1h"))?;
    let too_long = || format!("{text:?} is too long a duration");
    match unit {
        "" | "s" => Ok(Duration::from_secs(value)),
        "ms" => Ok(Duration::from_millis(value)),
        "m" => value
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(too_long),
        "h" => value
            .checked_mul(3600)
            .map(Duration::from_secs)
            .ok_or_else(too_long),
        _ => Err(format!(
            "{text:?} has an unknown unit {unit:?}; use ms, s, m or h"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration(&format!("{}h", u64::MAX)).is_err());
    }

    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        config: OperatorConfig,
    }

    fn config(args: &[&str]) -> Result<OperatorConfig, clap::Error> {
        <Flags as clap::Parser>::try_parse_from(
            std::iter::once("operator").chain(args.iter().copied()),
        )
        .map(|f| f.config)
    }

    #[test]
    fn every_aws_operation_is_paced_by_default_and_a_flag_replaces_one() {
        use emr_aws::{Operation, Rate};
        let defaults = config(&[]).unwrap().aws_pacer();
        for op in Operation::ALL {
            assert!(defaults.rate(op).is_some(), "{op:?} has no default");
        }
        let set = config(&["--aws-rate-limit", "StartJobRun=5/7,ListJobRuns=2"])
            .unwrap()
            .aws_pacer();
        assert_eq!(
            set.rate(Operation::StartJobRun),
            Some(Rate {
                per_second: 5.0,
                burst: 7
            })
        );
        assert_eq!(
            set.rate(Operation::ListJobRuns),
            Some(Rate {
                per_second: 2.0,
                burst: 4
            })
        );
        assert_eq!(
            set.rate(Operation::GetRole),
            defaults.rate(Operation::GetRole)
        );
        let off = config(&["--aws-pacing=false"]).unwrap().aws_pacer();
        assert_eq!(off.rate(Operation::StartJobRun), None);
        assert!(config(&["--aws-rate-limit", "StartJobRun=0"]).is_err());
        assert!(config(&["--aws-rate-limit", "Nope=1"]).is_err());
    }

    #[test]
    fn trust_policy_quotas() {
        assert_eq!(parse_trust_policy_max_chars("2048"), Ok(2048));
        assert_eq!(parse_trust_policy_max_chars("4096"), Ok(4096));
        for bad in ["0", "4097", "-1", "2k", ""] {
            assert!(parse_trust_policy_max_chars(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cluster_role_names() {
        assert!(parse_object_name(DEFAULT_EMR_CONTAINERS_CLUSTER_ROLE).is_ok());
        assert!(parse_object_name("system:emr.containers").is_ok());
        for bad in ["", ".", "..", "a/b", "a%2f", "a b", &"x".repeat(254)] {
            assert!(parse_object_name(bad).is_err(), "{bad:?}");
        }
    }
}
