//! EMR's JobDriver from the CRD's, for a run (`JobDriver`) and a template (`TemplateJobDriver`,
//! whose values may hold `${param}`). The two CRD types differ only in what their schemas allow,
//! so one conversion serves both: a change here reaches what runs and templates send alike.

use emr_api::spark_job_run::JobDriver;
use emr_api::spark_job_template::TemplateJobDriver;
use emr_aws::aws_sdk_emrcontainers::error::BuildError;
use emr_aws::aws_sdk_emrcontainers::types as sdk;

/// spark-submit's fields, borrowed from either CRD type.
pub(crate) struct SparkSubmit<'a> {
    entry_point: &'a str,
    entry_point_arguments: &'a [String],
    spark_submit_parameters: Option<&'a str>,
}

/// Spark SQL's fields, borrowed from either CRD type.
pub(crate) struct SparkSql<'a> {
    entry_point: Option<&'a str>,
    spark_sql_parameters: Option<&'a str>,
}

/// A CRD job driver, read through the fields EMR's JobDriver has.
pub(crate) trait JobDriverFields {
    fn spark_submit(&self) -> Option<SparkSubmit<'_>>;
    fn spark_sql(&self) -> Option<SparkSql<'_>>;
}

// The two CRD types spell their fields alike; one body implements the trait for both.
macro_rules! job_driver_fields {
    ($driver:ty) => {
        impl JobDriverFields for $driver {
            fn spark_submit(&self) -> Option<SparkSubmit<'_>> {
                self.spark_submit_job_driver.as_ref().map(|d| SparkSubmit {
                    entry_point: &d.entry_point,
                    entry_point_arguments: &d.entry_point_arguments,
                    spark_submit_parameters: d.spark_submit_parameters.as_deref(),
                })
            }

            fn spark_sql(&self) -> Option<SparkSql<'_>> {
                self.spark_sql_job_driver.as_ref().map(|d| SparkSql {
                    entry_point: d.entry_point.as_deref(),
                    spark_sql_parameters: d.spark_sql_parameters.as_deref(),
                })
            }
        }
    };
}

job_driver_fields!(JobDriver);
job_driver_fields!(TemplateJobDriver);

/// EMR's JobDriver; an empty argument list is left out rather than sent empty.
pub(crate) fn job_driver(driver: &impl JobDriverFields) -> Result<sdk::JobDriver, BuildError> {
    let submit = driver
        .spark_submit()
        .map(|d| {
            sdk::SparkSubmitJobDriver::builder()
                .entry_point(d.entry_point)
                .set_entry_point_arguments(
                    (!d.entry_point_arguments.is_empty()).then(|| d.entry_point_arguments.to_vec()),
                )
                .set_spark_submit_parameters(d.spark_submit_parameters.map(str::to_owned))
                .build()
        })
        .transpose()?;
    let sql = driver.spark_sql().map(|d| {
        sdk::SparkSqlJobDriver::builder()
            .set_entry_point(d.entry_point.map(str::to_owned))
            .set_spark_sql_parameters(d.spark_sql_parameters.map(str::to_owned))
            .build()
    });
    Ok(sdk::JobDriver::builder()
        .set_spark_submit_job_driver(submit)
        .set_spark_sql_job_driver(sql)
        .build())
}
