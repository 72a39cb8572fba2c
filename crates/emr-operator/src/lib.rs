//! The controllers of emr-on-eks-operator. They join the API types (`emr-api`) and the AWS layer
//! (`emr-aws`); each keeps its decisions (what should exist, which state comes next) in pure
//! modules apart from the code that talks to the apiserver and AWS.

pub mod config;
pub mod context;
pub mod fair_queue;
#[cfg(test)]
mod hostile_values;
pub mod kit;
pub mod kube_client;
pub mod leader;
pub mod lean;
pub mod metrics;
pub mod replaced;
pub mod run;
pub mod scheduled_spark_job_run;
pub mod security_configuration;
pub mod server;
pub mod spark_job_run;
pub mod spark_job_template;
pub mod virtual_cluster;

pub use config::OperatorConfig;
pub use context::Context;
