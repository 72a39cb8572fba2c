//! kube-apiserver's side: its request counters (writes per job) and restarting it.
//!
//! `apiserver_request_total` is scraped from the bed's apiserver as admin. Counters restart at
//! zero when the apiserver restarts, so they are accumulated Prometheus-style: a value lower than
//! the previous one counts as a reset. The scraper also runs every 10 s so a restart loses at
//! most that long's increments (the restart scenario scrapes right before the kill).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Res;

/// Where the bed's apiserver is and how to reach it as admin.
#[derive(Clone, Debug)]
pub struct ApiserverAccess {
    pub dir: PathBuf,
}

impl ApiserverAccess {
    fn url(&self) -> Res<String> {
        let port = std::fs::read_to_string(self.dir.join("apiserver.port"))
            .map_err(|e| format!("read apiserver.port: {e}"))?;
        Ok(format!("https://127.0.0.1:{}", port.trim()))
    }

    fn curl(&self, path: &str) -> Res<String> {
        let token = std::fs::read_to_string(self.dir.join("admin.token"))
            .map_err(|e| format!("read admin.token: {e}"))?;
        let out = Command::new("curl")
            .args(["-sf", "--max-time", "20", "--cacert"])
            .arg(self.dir.join("pki/ca.crt"))
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", token.trim()))
            .arg(format!("{}{path}", self.url()?))
            .output()
            .map_err(|e| format!("run curl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "GET {path} from kube-apiserver failed ({})",
                out.status
            ));
        }
        String::from_utf8(out.stdout).map_err(|e| format!("GET {path}: {e}"))
    }
}

/// (resource, subresource, verb) -> requests.
pub type WriteCounts = BTreeMap<String, f64>;

/// Parses `apiserver_request_total{...} value` lines into series -> value.
fn parse_request_totals(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse::<f64>().ok()?))
        })
        .collect()
}

fn label<'a>(series: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    series
        .find(&key)
        .map(|i| &series[i + key.len()..])
        .and_then(|rest| rest.find('"').map(|end| &rest[..end]))
        .unwrap_or("")
}

#[derive(Default)]
struct Accumulator {
    last: BTreeMap<String, f64>,
    total: BTreeMap<String, f64>,
    scrapes: u64,
    failures: u64,
}

/// Accumulates apiserver_request_total across scrapes and restarts.
#[derive(Clone)]
pub struct RequestCounter {
    access: ApiserverAccess,
    acc: Arc<Mutex<Accumulator>>,
}

/// Write verbs as kube-apiserver labels them (`APPLY` is a server-side apply PATCH).
pub const WRITE_VERBS: [&str; 6] = [
    "POST",
    "PUT",
    "PATCH",
    "APPLY",
    "DELETE",
    "DELETECOLLECTION",
];

impl RequestCounter {
    pub fn start(access: ApiserverAccess) -> RequestCounter {
        let counter = RequestCounter {
            access,
            acc: Arc::new(Mutex::new(Accumulator::default())),
        };
        let _ = counter.scrape();
        let background = counter.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let c = background.clone();
                let _ = tokio::task::spawn_blocking(move || c.scrape()).await;
            }
        });
        counter
    }

    /// Scrapes now; an unreachable apiserver (being restarted) is counted and skipped.
    pub fn scrape(&self) -> Res<()> {
        let text = match self.access.curl("/metrics") {
            Ok(text) => text,
            Err(e) => {
                self.acc.lock().unwrap_or_else(|p| p.into_inner()).failures += 1;
                return Err(e);
            }
        };
        let values = parse_request_totals(&text);
        let mut acc = self.acc.lock().unwrap_or_else(|p| p.into_inner());
        let first = acc.scrapes == 0;
        for (series, value) in values {
            let previous = acc.last.insert(series.clone(), value);
            let increase = match previous {
                Some(p) if value >= p => value - p,
                Some(_) => value, // reset: the apiserver restarted
                None if first => 0.0,
                None => value, // a series born since the last scrape
            };
            *acc.total.entry(series).or_insert(0.0) += increase;
        }
        acc.scrapes += 1;
        Ok(())
    }

    /// Write requests since the counter started, by `resource[/subresource] VERB`, for the
    /// resources given (e.g. sparkjobruns, events).
    pub fn writes(&self, resources: &[&str]) -> WriteCounts {
        let _ = self.scrape();
        let acc = self.acc.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = WriteCounts::new();
        for (series, value) in &acc.total {
            let verb = label(series, "verb");
            let resource = label(series, "resource");
            if !WRITE_VERBS.contains(&verb) || !resources.contains(&resource) {
                continue;
            }
            let sub = label(series, "subresource");
            let key = if sub.is_empty() {
                format!("{resource} {verb}")
            } else {
                format!("{resource}/{sub} {verb}")
            };
            *out.entry(key).or_insert(0.0) += value;
        }
        out
    }
}

/// Difference of two write counts.
pub fn diff(after: &WriteCounts, before: &WriteCounts) -> WriteCounts {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// Kills kube-apiserver with SIGKILL, waits `down`, and starts it again with the same command
/// line (the bed's pid file is updated, so `tests/bed/down.sh` still stops it). Returns how long
/// until it answered /readyz again.
pub async fn restart(dir: &Path, down: Duration) -> Res<Duration> {
    let pid_file = dir.join("pids/kube-apiserver.pid");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .map_err(|e| format!("read {}: {e}", pid_file.display()))?
        .trim()
        .parse()
        .map_err(|e| format!("parse {}: {e}", pid_file.display()))?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map_err(|e| format!("read the cmdline of kube-apiserver (pid {pid}): {e}"))?;
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let dir_text = dir.to_string_lossy();
    if argv.is_empty() || !argv.iter().any(|a| a.contains(dir_text.as_ref())) {
        return Err(format!(
            "pid {pid} is not this bed's kube-apiserver; not touching it"
        ));
    }
    let killed = Instant::now();
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .map_err(|e| format!("kill kube-apiserver: {e}"))?;
    if !status.success() {
        return Err(format!("kill -KILL {pid} failed"));
    }
    // Wait until the process is gone (or a zombie) so its port is free.
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = state
            .rfind(')')
            .and_then(|i| state.get(i + 2..i + 3))
            .is_some_and(|s| s == "Z");
        if state.is_empty() || zombie {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(down.saturating_sub(killed.elapsed())).await;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("logs/kube-apiserver.log"))
        .map_err(|e| format!("open kube-apiserver.log: {e}"))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    use std::os::unix::process::CommandExt;
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("start kube-apiserver again: {e}"))?;
    std::fs::write(&pid_file, format!("{}\n", child.id()))
        .map_err(|e| format!("write {}: {e}", pid_file.display()))?;
    // The child is reaped by nobody while we run; it outlives the driver like the bed's others.
    std::mem::forget(child);
    let access = ApiserverAccess {
        dir: dir.to_path_buf(),
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if access.curl("/readyz").is_ok() {
            return Ok(killed.elapsed());
        }
        if Instant::now() > deadline {
            return Err("kube-apiserver did not answer /readyz within 90 s of its restart".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
