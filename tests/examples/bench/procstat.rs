//! CPU and memory from /proc: the machine, the operator and the bed's processes.
//!
//! CPU seconds are utime+stime of /proc/<pid>/stat (all threads); memory is VmRSS and VmHWM
//! (peak resident set) of /proc/<pid>/status. A sampler reads them every second so that a
//! process that is killed or restarted (the operator in the SIGKILL scenario, kube-apiserver in
//! the restart scenario) is still accounted for, to within one second of CPU.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

/// The machine, as the results record it.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_mib: u64,
    pub kernel: String,
    pub load_average_at_start: String,
    pub hostname: String,
}

pub fn machine_info() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_total_kib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Machine {
        nproc: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model,
        mem_total_mib: mem_total_kib / 1024,
        kernel: read_trim("/proc/sys/kernel/osrelease"),
        load_average_at_start: read_trim("/proc/loadavg"),
        hostname: read_trim("/proc/sys/kernel/hostname"),
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Clock ticks per second of /proc/<pid>/stat times.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime+stime in ticks of one process.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after its closing paren are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// (VmRSS, VmHWM) in KiB.
fn process_memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Busy and total ticks of the whole machine (/proc/stat's `cpu` line).
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Pids of the processes whose command line contains `needle` (e.g. the operator's unique
/// `--selector=...` argument), excluding this process.
pub fn pids_matching(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// How to find a component's current pid(s).
#[derive(Clone, Debug)]
pub enum Finder {
    /// The bed's pid file (re-read every sample: a restarted component gets a new one).
    PidFile(PathBuf),
    /// Processes whose command line contains this text.
    Cmdline(String),
    /// This driver.
    Myself,
}

impl Finder {
    fn pids(&self) -> Vec<u32> {
        match self {
            Finder::PidFile(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
                .into_iter()
                .collect(),
            Finder::Cmdline(needle) => pids_matching(needle),
            Finder::Myself => vec![std::process::id()],
        }
    }
}

#[derive(Default, Clone)]
struct PidRecord {
    first_ticks: u64,
    last_ticks: u64,
    /// Whether the process already ran before the sampler first saw it (its first reading is a
    /// baseline) or was born during sampling (it counts from zero).
    preexisting: bool,
}

#[derive(Default, Clone)]
struct Component {
    pids: HashMap<u32, PidRecord>,
    rss_kib: u64,
    peak_hwm_kib: u64,
    restarts_seen: u32,
}

impl Component {
    /// CPU ticks used since the sampler started, across every pid it has seen.
    fn ticks(&self) -> u64 {
        self.pids
            .values()
            .map(|r| {
                r.last_ticks
                    .saturating_sub(if r.preexisting { r.first_ticks } else { 0 })
            })
            .sum()
    }
}

#[derive(Default)]
struct State {
    components: BTreeMap<String, Component>,
    machine_busy_first: u64,
    machine_busy_last: u64,
    machine_total_first: u64,
    machine_total_last: u64,
    samples: u64,
}

/// Samples CPU and memory of named components every second until dropped.
#[derive(Clone)]
pub struct Sampler {
    state: Arc<Mutex<State>>,
    finders: Arc<Vec<(String, Finder)>>,
    hz: f64,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for Sampler {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

/// One reading of every component: cumulative CPU seconds since the sampler started.
#[derive(Clone, Debug, Default)]
pub struct Mark {
    pub cpu: BTreeMap<String, f64>,
    pub machine_busy: f64,
    pub machine_total: f64,
}

/// CPU over a window and memory, per component.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// CPU seconds each component used in the window.
    pub cpu_seconds: BTreeMap<String, f64>,
    /// Busy CPU seconds of the whole machine in the window (all processes).
    pub machine_busy_seconds: f64,
    /// Wall seconds times cores: the machine's capacity in the window.
    pub machine_capacity_seconds: f64,
    /// Machine busy seconds not used by the operator, the bed or this driver: other work on a
    /// shared machine.
    pub other_cpu_seconds: f64,
    /// The operator's CPU over operator + kube-apiserver + etcd + emulator + controller manager.
    pub operator_share_of_system: f64,
    /// VmRSS at the end of the window, MiB.
    pub rss_mib: BTreeMap<String, f64>,
    /// Highest VmHWM seen for any process of the component since sampling began, MiB.
    pub peak_rss_mib: BTreeMap<String, f64>,
}

impl Sampler {
    pub fn start(finders: Vec<(String, Finder)>) -> Sampler {
        let state = Arc::new(Mutex::new(State::default()));
        let finders = Arc::new(finders);
        let hz = clock_ticks();
        // The first reading is the baseline of every process already running.
        sample(&state, &finders, true);
        let task = {
            let state = state.clone();
            let finders = finders.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    sample(&state, &finders, false);
                }
            })
        };
        Sampler {
            state,
            finders,
            hz,
            task: Arc::new(task),
        }
    }

    /// Takes a sample now and returns the cumulative readings.
    pub fn mark(&self) -> Mark {
        sample(&self.state, &self.finders, false);
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Mark {
            cpu: state
                .components
                .iter()
                .map(|(name, c)| (name.clone(), c.ticks() as f64 / self.hz))
                .collect(),
            machine_busy: state
                .machine_busy_last
                .saturating_sub(state.machine_busy_first) as f64
                / self.hz,
            machine_total: state
                .machine_total_last
                .saturating_sub(state.machine_total_first) as f64
                / self.hz,
        }
    }

    /// Usage between two marks (memory as of now).
    pub fn usage(&self, from: &Mark, to: &Mark) -> Usage {
        let cpu: BTreeMap<String, f64> = to
            .cpu
            .iter()
            .map(|(name, v)| {
                let before = from.cpu.get(name).copied().unwrap_or(0.0);
                (name.clone(), round3((v - before).max(0.0)))
            })
            .collect();
        let ours: f64 = cpu.values().sum();
        let machine_busy = (to.machine_busy - from.machine_busy).max(0.0);
        let system: f64 = cpu
            .iter()
            .filter(|(name, _)| name.as_str() != "driver")
            .map(|(_, v)| v)
            .sum();
        let operator = cpu.get("operator").copied().unwrap_or(0.0);
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Usage {
            machine_busy_seconds: round3(machine_busy),
            machine_capacity_seconds: round3((to.machine_total - from.machine_total).max(0.0)),
            other_cpu_seconds: round3((machine_busy - ours).max(0.0)),
            operator_share_of_system: if system > 0.0 {
                round3(operator / system)
            } else {
                0.0
            },
            cpu_seconds: cpu,
            rss_mib: state
                .components
                .iter()
                .map(|(n, c)| (n.clone(), round1(c.rss_kib as f64 / 1024.0)))
                .collect(),
            peak_rss_mib: state
                .components
                .iter()
                .map(|(n, c)| (n.clone(), round1(c.peak_hwm_kib as f64 / 1024.0)))
                .collect(),
        }
    }

    /// How many distinct processes of a component were seen (restarts + 1).
    pub fn processes_seen(&self, name: &str) -> usize {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.components.get(name).map_or(0, |c| c.pids.len())
    }
}

/// (pid, CPU ticks, (VmRSS, VmHWM)) of each process of a component.
type Reading = (u32, u64, Option<(u64, u64)>);

fn sample(state: &Mutex<State>, finders: &[(String, Finder)], first: bool) {
    let readings: Vec<(String, Vec<Reading>)> = finders
        .iter()
        .map(|(name, finder)| {
            let pids = finder.pids();
            let values = pids
                .into_iter()
                .filter_map(|pid| Some((pid, process_ticks(pid)?, process_memory(pid))))
                .collect();
            (name.clone(), values)
        })
        .collect();
    let machine = machine_ticks();
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((busy, total)) = machine {
        if state.samples == 0 {
            state.machine_busy_first = busy;
            state.machine_total_first = total;
        }
        state.machine_busy_last = busy;
        state.machine_total_last = total;
    }
    state.samples += 1;
    for (name, values) in readings {
        let component = state.components.entry(name).or_default();
        let mut rss = 0;
        for (pid, ticks, memory) in values {
            let known = component.pids.contains_key(&pid);
            let record = component.pids.entry(pid).or_insert_with(|| PidRecord {
                first_ticks: ticks,
                last_ticks: ticks,
                preexisting: first,
            });
            if !known && !first {
                component.restarts_seen += 1;
            }
            record.last_ticks = record.last_ticks.max(ticks);
            if let Some((vm_rss, vm_hwm)) = memory {
                rss += vm_rss;
                component.peak_hwm_kib = component.peak_hwm_kib.max(vm_hwm);
            }
        }
        component.rss_kib = rss;
    }
}

pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
