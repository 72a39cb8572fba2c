//! Inline pod templates: which template each pod role gets, the checks before anything is
//! spent, the deterministic YAML EMR reads, and its content-addressed upload to S3.
//!
//! - [`select`]: the job's own template, else its VirtualCluster's default, per role; the
//!   conflict with hand-set `podTemplateFile` properties (pure);
//! - [`validate`]: what the schema cannot judge, in the order that costs nothing first: the
//!   typed parse, the size cap, the namespace; the PriorityClass lookup is the caller's (pure);
//! - [`render`]: the YAML and its SHA-256, the object's name in the store (pure);
//! - [`upload`]: HeadObject, then PutObject only when the content is not there yet;
//! - [`apply`]: the Spark properties the StartJobRun request gets (pure).
//!
//! The submission order lives in `io::pod_templates`.

pub mod apply;
#[cfg(test)]
mod no_panic_tests;
pub mod render;
pub mod select;
pub mod upload;
pub mod validate;

pub use render::Rendered;
pub use select::{Chosen, Origin};
pub use upload::{Store, StoreError, UploadOutcome};
pub use validate::{Invalid, MAX_TEMPLATE_BYTES};

use emr_api::pod_template::PodRole;

/// One template to check and render, owned (it crosses to the checking thread).
pub struct Job {
    pub role: PodRole,
    pub template: emr_api::pod_template::PodTemplate,
    pub origin: Origin,
}

/// A template that passed the pure checks: its YAML, and the PriorityClass it names.
pub struct Checked {
    pub rendered: Rendered,
    pub priority_class: Option<String>,
}

/// Why the checks could not run at all (the thread could not be started or died).
#[derive(Debug, thiserror::Error)]
#[error("checking pod templates: {0}")]
pub struct CheckThreadError(String);

/// Stack for the checking thread. k8s-openapi's PodSpec (de)serializers are deep and wide: an
/// unoptimized build needs more than a runtime worker's 2 MiB to read one inside a reconcile.
const CHECK_STACK_BYTES: usize = 32 * 1024 * 1024;

/// Runs [`validate::parse`] and [`render::render`] on every template, on a thread of its own
/// (see [`CHECK_STACK_BYTES`]); the first refusal wins.
pub async fn check_and_render(
    jobs: Vec<Job>,
    namespace: String,
) -> Result<Result<Vec<Checked>, Invalid>, CheckThreadError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("pod-templates".into())
        .stack_size(CHECK_STACK_BYTES)
        .spawn(move || {
            let _ = tx.send(check_all(&jobs, &namespace));
        })
        .map_err(|e| CheckThreadError(e.to_string()))?;
    rx.await
        .map_err(|_| CheckThreadError("the checking thread ended without an answer".into()))
}

fn check_all(jobs: &[Job], namespace: &str) -> Result<Vec<Checked>, Invalid> {
    jobs.iter()
        .map(|job| {
            let chosen = Chosen {
                role: job.role,
                template: &job.template,
                origin: job.origin.clone(),
            };
            let typed = validate::parse(&chosen, namespace)?;
            let priority_class = validate::priority_class(&typed).map(str::to_owned);
            let rendered = render::render(job.role, &typed, &chosen.field())?;
            Ok(Checked {
                rendered,
                priority_class,
            })
        })
        .collect()
}
