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
