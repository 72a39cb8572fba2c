//! The custom resources of emr-on-eks-operator, API group `emr-on-eks.dev`, version `v1alpha1`.
//!
//! This crate knows nothing of AWS or of an async runtime: it is the contract shared by the
//! controllers, the CRD generator, the tests and anyone writing a client.

pub mod check;
pub mod condition;
pub mod crd;
pub mod emr_name;
pub mod emr_object;
pub mod labels;
pub mod patterns;
pub mod pod_template;
pub mod reference;
pub mod scheduled_spark_job_run;
pub mod security_configuration;
pub mod spark_job_run;
pub mod spark_job_template;
pub mod time;
pub mod virtual_cluster;

pub use condition::{Condition, ConditionStatus};
pub use scheduled_spark_job_run::{
    ScheduledSparkJobRun, ScheduledSparkJobRunSpec, ScheduledSparkJobRunStatus,
};
pub use security_configuration::{SecurityConfiguration, SecurityConfigurationSpec};
pub use spark_job_run::{SparkJobRun, SparkJobRunSpec, SparkJobRunStatus};
pub use spark_job_template::{SparkJobTemplate, SparkJobTemplateSpec};
pub use virtual_cluster::{VirtualCluster, VirtualClusterSpec, VirtualClusterStatus};

/// The API group of every resource in this crate.
pub const GROUP: &str = "emr-on-eks.dev";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";
