//! What the driver and each executor container will request and be limited to, from the
//! job's Spark properties, as Spark on Kubernetes (3.x, the EMR 6/7 releases) writes them:
//!
//! - CPU request: `spark.kubernetes.{driver,executor}.request.cores` (a Kubernetes quantity),
//!   else `spark.{driver,executor}.cores` (an integer, default 1);
//! - CPU limit: `spark.kubernetes.{driver,executor}.limit.cores` when set, else none (the
//!   namespace's LimitRange default then applies);
//! - memory request = limit = `spark.{driver,executor}.memory` (default 1g) plus the overhead:
//!   `spark.{driver,executor}.memoryOverhead` when set, else the factor
//!   (`spark.{driver,executor}.memoryOverheadFactor`, else `spark.kubernetes.memoryOverheadFactor`,
//!   else 0.1, or 0.4 for Python and R applications) times the memory, at least
//!   `spark.{driver,executor}.minMemoryOverhead` (default 384 MiB); executors add
//!   `spark.executor.pyspark.memory` (Python) and `spark.memory.offHeap.size` (when
//!   `spark.memory.offHeap.enabled`);
//! - executors: `spark.executor.instances` (default 2); with
//!   `spark.dynamicAllocation.enabled`, at first the largest of `minExecutors` (default 0),
//!   `initialExecutors` and `spark.executor.instances`, at most `maxExecutors` (default
//!   unbounded).
//!
//! These are Apache Spark's defaults; the operator does not know the EMR image's own
//! spark-defaults, and assumes they leave these properties at Spark's values.
//! Not modelled here: the job-runner pod EMR starts first. What an inline pod template adds
//! (its CPU limit on Spark's container, other containers) is `template`'s.

use super::quantity::{self, MIB, SizeError};
use super::spark_conf::SparkConf;

/// Spark's floor for the memory overhead, in MiB.
const MIN_OVERHEAD_MIB: u128 = 384;
/// Spark's overhead factors (JVM, and Python/R).
const JVM_OVERHEAD_FACTOR: f64 = 0.1;
const NON_JVM_OVERHEAD_FACTOR: f64 = 0.4;
/// Executors Spark starts without dynamic allocation when none are asked for.
const DEFAULT_EXECUTORS: u128 = 2;

/// The driver or an executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Driver,
    Executor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Driver => "driver",
            Role::Executor => "executor",
        }
    }
}

/// An amount and the setting it comes from, for messages (`spark.executor.cores=7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced {
    pub amount: u128,
    pub source: String,
}

/// One Spark container's resources, before the namespace's LimitRange fills in what is unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub role: Role,
    /// Millicores.
    pub cpu_request: Sourced,
    /// Millicores; `None` when no `limit.cores` is set.
    pub cpu_limit: Option<Sourced>,
    /// Bytes; Spark sets it as both request and limit.
    pub memory: Sourced,
}

/// How many executors run: at the start, and at most (`None`: no bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Executors {
    pub initial: u128,
    pub most: Option<u128>,
}

/// A property whose value Spark itself would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}={value} {problem}")]
pub struct BadProperty {
    pub key: String,
    pub value: String,
    pub problem: String,
}

/// The driver's container, an executor's, and how many executors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobShape {
    pub driver: Container,
    pub executor: Container,
    pub executors: Executors,
}

/// The shape of a job from its properties.
pub fn shape(conf: &SparkConf) -> Result<JobShape, BadProperty> {
    Ok(JobShape {
        driver: container(conf, Role::Driver)?,
        executor: container(conf, Role::Executor)?,
        executors: executors(conf)?,
    })
}

fn container(conf: &SparkConf, role: Role) -> Result<Container, BadProperty> {
    let r = role.as_str();
    let cores_key = format!("spark.{r}.cores");
    let request_key = format!("spark.kubernetes.{r}.request.cores");
    let limit_key = format!("spark.kubernetes.{r}.limit.cores");
    let cpu_request = match conf.get(&request_key) {
        Some(v) => Sourced {
            amount: positive(&request_key, v, quantity::kube_millis(v))?,
            source: format!("{request_key}={v}"),
        },
        None => {
            let cores = integer(conf, &cores_key, 1)?;
            Sourced {
                amount: cores
                    .checked_mul(1000)
                    .ok_or_else(|| too_large(&cores_key, conf))?,
                source: match conf.get(&cores_key) {
                    Some(v) => format!("{cores_key}={v}"),
                    None => format!("{cores_key} (default 1)"),
                },
            }
        }
    };
    let cpu_limit = match conf.get(&limit_key) {
        Some(v) => Some(Sourced {
            amount: positive(&limit_key, v, quantity::kube_millis(v))?,
            source: format!("{limit_key}={v}"),
        }),
        None => None,
    };
    Ok(Container {
        role,
        cpu_request,
        cpu_limit,
        memory: memory(conf, role)?,
    })
}

/// Memory request and limit in bytes, with where it comes from.
fn memory(conf: &SparkConf, role: Role) -> Result<Sourced, BadProperty> {
    let r = role.as_str();
    let memory_key = format!("spark.{r}.memory");
    let heap = mib(conf, &memory_key, "1g", MIB)?;
    let overhead_key = format!("spark.{r}.memoryOverhead");
    let overhead = match conf.get(&overhead_key) {
        Some(_) => mib(conf, &overhead_key, "0", MIB)?,
        None => {
            let min_key = format!("spark.{r}.minMemoryOverhead");
            let floor = match conf.get(&min_key) {
                Some(_) => mib(conf, &min_key, "384m", MIB)?,
                None => MIN_OVERHEAD_MIB,
            };
            factor_of(conf, role, heap)?.max(floor)
        }
    };
    let mut total = heap
        .checked_add(overhead)
        .ok_or_else(|| too_large(&memory_key, conf))?;
    let mut parts = vec![format!(
        "{memory_key}={}",
        conf.get(&memory_key).unwrap_or("1g (default)")
    )];
    parts.push(format!("memory overhead {overhead}Mi"));
    if role == Role::Executor {
        if conf.non_jvm && conf.get("spark.executor.pyspark.memory").is_some() {
            let py = mib(conf, "spark.executor.pyspark.memory", "0", MIB)?;
            total = total
                .checked_add(py)
                .ok_or_else(|| too_large("spark.executor.pyspark.memory", conf))?;
            parts.push(format!("spark.executor.pyspark.memory {py}Mi"));
        }
        if flag(conf, "spark.memory.offHeap.enabled")? {
            let off = mib(conf, "spark.memory.offHeap.size", "0", 1)?;
            total = total
                .checked_add(off)
                .ok_or_else(|| too_large("spark.memory.offHeap.size", conf))?;
            parts.push(format!("spark.memory.offHeap.size {off}Mi"));
        }
    }
    let bytes = total
        .checked_mul(MIB)
        .ok_or_else(|| too_large(&memory_key, conf))?;
    Ok(Sourced {
        amount: bytes,
        source: parts.join(" + "),
    })
}

/// The overhead from the factor, in MiB, truncated as Spark's `(factor * memory).toInt`.
fn factor_of(conf: &SparkConf, role: Role, heap_mib: u128) -> Result<u128, BadProperty> {
    let role_key = format!("spark.{}.memoryOverheadFactor", role.as_str());
    let shared_key = "spark.kubernetes.memoryOverheadFactor";
    let (key, text) = match (conf.get(&role_key), conf.get(shared_key)) {
        (Some(v), _) => (role_key.as_str(), v),
        (None, Some(v)) => (shared_key, v),
        (None, None) => {
            let factor = if conf.non_jvm {
                NON_JVM_OVERHEAD_FACTOR
            } else {
                JVM_OVERHEAD_FACTOR
            };
            return Ok(scaled(heap_mib, factor));
        }
    };
    let bad = |problem: &str| BadProperty {
        key: key.to_owned(),
        value: text.to_owned(),
        problem: problem.to_owned(),
    };
    let factor: f64 = text.parse().map_err(|_| bad("is not a number"))?;
    if !factor.is_finite() || factor <= 0.0 {
        return Err(bad("must be a positive number"));
    }
    Ok(scaled(heap_mib, factor))
}

/// `heap * factor` as Spark's `(factor * memory).toInt`: truncated, and at most `Int.MaxValue`
/// (a Scala Double-to-Int conversion saturates).
fn scaled(heap_mib: u128, factor: f64) -> u128 {
    let product = factor * heap_mib as f64;
    if product.is_finite() && product > 0.0 {
        product.min(f64::from(i32::MAX)) as u128
    } else {
        0
    }
}

fn executors(conf: &SparkConf) -> Result<Executors, BadProperty> {
    let instances = match conf.get("spark.executor.instances") {
        Some(_) => Some(integer(conf, "spark.executor.instances", 0)?),
        None => None,
    };
    if !flag(conf, "spark.dynamicAllocation.enabled")? {
        let n = instances.unwrap_or(DEFAULT_EXECUTORS);
        return Ok(Executors {
            initial: n,
            most: Some(n),
        });
    }
    let min = integer(conf, "spark.dynamicAllocation.minExecutors", 0)?;
    let initial = integer(conf, "spark.dynamicAllocation.initialExecutors", min)?;
    let most = match conf.get("spark.dynamicAllocation.maxExecutors") {
        Some(_) => Some(integer(conf, "spark.dynamicAllocation.maxExecutors", 0)?),
        None => None,
    };
    let initial = initial.max(min).max(instances.unwrap_or(0));
    Ok(Executors { initial, most })
}

/// A Spark boolean (`true`/`false`, any case), default false.
fn flag(conf: &SparkConf, key: &str) -> Result<bool, BadProperty> {
    match conf.get(key).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(BadProperty {
            key: key.to_owned(),
            value: conf.get(key).unwrap_or_default().to_owned(),
            problem: "is not true or false".to_owned(),
        }),
    }
}

/// A Spark Int property, at least zero (cores must be positive), or `default`.
fn integer(conf: &SparkConf, key: &str, default: u128) -> Result<u128, BadProperty> {
    let Some(text) = conf.get(key) else {
        return Ok(default);
    };
    let bad = |problem: &str| BadProperty {
        key: key.to_owned(),
        value: text.to_owned(),
        problem: problem.to_owned(),
    };
    let value: i32 = text
        .parse()
        .map_err(|_| bad("is not a whole number Spark can read (an Int)"))?;
    let cores = key.ends_with(".cores");
    if value < 0 || (cores && value == 0) {
        return Err(bad(if cores {
            "must be at least 1"
        } else {
            "must not be negative"
        }));
    }
    Ok(u128::from(value.unsigned_abs()))
}

/// A Spark size property in MiB, `default` when unset.
fn mib(conf: &SparkConf, key: &str, default: &str, unit: u128) -> Result<u128, BadProperty> {
    let text = conf.get(key).unwrap_or(default);
    quantity::spark_mib(text, unit).map_err(|e| BadProperty {
        key: key.to_owned(),
        value: text.to_owned(),
        problem: e.to_string(),
    })
}

/// A quantity that must be above zero.
fn positive(key: &str, text: &str, read: Result<u128, SizeError>) -> Result<u128, BadProperty> {
    let bad = |problem: String| BadProperty {
        key: key.to_owned(),
        value: text.to_owned(),
        problem,
    };
    match read {
        Ok(0) => Err(bad("must be above zero".to_owned())),
        Ok(v) => Ok(v),
        Err(e) => Err(bad(format!(
            "{e} (a Kubernetes quantity such as 2 or 500m)"
        ))),
    }
}

fn too_large(key: &str, conf: &SparkConf) -> BadProperty {
    BadProperty {
        key: key.to_owned(),
        value: conf.get(key).unwrap_or_default().to_owned(),
        problem: "is too large".to_owned(),
    }
}

#[cfg(test)]
mod tests;
