"""Driver and executor logs of emulated job runs, written where EMR on EKS writes them.

EMR on EKS ships a job run's container logs to the destinations in
``configurationOverrides.monitoringConfiguration`` (Amazon EMR on EKS Developer Guide, "Configure a
job run to use Amazon S3 logs" / "... Amazon CloudWatch Logs"; the layout is also listed in the
EMR on EKS best-practices guide, "Where to look for Spark logs",
https://aws.github.io/aws-emr-containers-best-practices/troubleshooting/docs/where-to-look-for-spark-logs):

  CloudWatch: group ``logGroupName``, streams
    ``[logStreamNamePrefix/]<vcId>/jobs/<jobRunId>/containers/<sparkAppId>/spark-<jobRunId>-driver/stdout|stderr``
    ``[logStreamNamePrefix/]<vcId>/jobs/<jobRunId>/containers/<sparkAppId>/<executorPod>/stdout|stderr``
  S3: ``<logUri>/<vcId>/jobs/<jobRunId>/containers/<sparkAppId>/spark-<jobRunId>-driver/stdout.gz|stderr.gz``
      (executors likewise), gzip-compressed.

(The job-runner pod's logs sit under ``containers/<jobRunnerPod>/``; the emulator has no job runner.)

The emulator writes them lazily, when a read of the job run (DescribeJobRun, ListJobRuns) first
sees it RUNNING and then finished, so a reader following a running job sees lines arrive: the
first driver lines at RUNNING, the rest (and the executor's) once it ended COMPLETED or FAILED.
S3 objects are written once, at the end (EMR uploads them when the containers finish). A missing
log group or bucket is created (real EMR needs the bucket to exist).
"""

import gzip
import threading
import time
from typing import Any

from moto.logs.models import logs_backends
from moto.s3.models import s3_backends

_LOCK = threading.Lock()


def driver_pod(job_id: str) -> str:
    return f"spark-{job_id}-driver"


def executor_pod(job_id: str, executor_id: int) -> str:
    # Spark names executor pods <appName>-<16 hex>-exec-<id>; the prefix is fixed per job here.
    return f"pythonpi-{job_id[:16].ljust(16, '0')}-exec-{executor_id}"


def spark_app_id(job_id: str) -> str:
    return f"spark-{job_id.ljust(32, '0')[:32]}"


def _first_lines(job: Any) -> dict[str, list[str]]:
    return {
        "stderr": [
            f"INFO SparkContext: Running Spark version 3.5.1-amzn-0 (emulated job run {job.id})",
            f"INFO SparkContext: Submitted application: {job.name}",
        ],
        "stdout": [],
    }


def _last_lines(job: Any, state: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(driver, executor 1) lines written when the run has finished."""
    attempt = getattr(job, "attempt", 1)
    if state == "COMPLETED":
        driver = {
            "stderr": ["INFO DAGScheduler: Job 0 finished", "INFO SparkContext: Successfully stopped SparkContext"],
            "stdout": [f"Pi is roughly 3.14159 (emulated, attempt {attempt})"],
        }
    else:
        driver = {
            "stderr": [
                "ERROR SparkContext: Error initializing SparkContext.",
                f"Traceback (most recent call last): job run {job.id} failed (emulated, attempt {attempt})",
            ],
            "stdout": [],
        }
    executor = {
        "stderr": ["INFO CoarseGrainedExecutorBackend: Successfully registered with driver"],
        "stdout": ["executor 1 finished its tasks"],
    }
    return driver, executor


def _monitoring(job: Any) -> dict[str, Any]:
    overrides = job.configuration_overrides or {}
    if not isinstance(overrides, dict):
        return {}
    monitoring = overrides.get("monitoringConfiguration") or {}
    return monitoring if isinstance(monitoring, dict) else {}


def _run_path(job: Any) -> str:
    return f"{job.virtual_cluster_id}/jobs/{job.id}/containers/{spark_app_id(job.id)}"


def _put_cloudwatch(
    job: Any, account: tuple[str, str], group: str, prefix: str, pod: str, lines: dict[str, list[str]]
) -> None:
    backend = logs_backends[account[0]][account[1]]
    if group not in backend.groups:
        backend.create_log_group(group, {})
    base = f"{prefix.strip('/')}/{_run_path(job)}" if prefix.strip("/") else _run_path(job)
    now_ms = int(time.time() * 1000)
    for stream_kind, messages in lines.items():
        stream = f"{base}/{pod}/{stream_kind}"
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        if messages:
            events = [{"timestamp": now_ms, "message": m} for m in messages]
            backend.put_log_events(group, stream, events)


def _put_s3(job: Any, account: tuple[str, str], log_uri: str, pod: str, lines: dict[str, list[str]]) -> None:
    if not log_uri.startswith("s3://"):
        return
    bucket, _, prefix = log_uri[len("s3://") :].partition("/")
    backend = s3_backends[account[0]]["global"]
    if bucket not in backend.buckets:
        backend.create_bucket(bucket, account[1])
    base = f"{prefix.strip('/')}/{_run_path(job)}" if prefix.strip("/") else _run_path(job)
    for stream_kind, messages in lines.items():
        body = "".join(f"{m}\n" for m in messages).encode()
        # mtime=0: the same run always gives the same bytes.
        backend.put_object(bucket, f"{base}/{pod}/{stream_kind}.gz", gzip.compress(body, mtime=0))


def publish(job: Any, state: str, account_id: str, region: str) -> None:
    """Writes the logs due for a job run seen in ``state``; each part only once."""
    if not hasattr(job, "virtual_cluster_id"):
        return
    monitoring = _monitoring(job)
    cloudwatch = monitoring.get("cloudWatchMonitoringConfiguration") or {}
    s3 = monitoring.get("s3MonitoringConfiguration") or {}
    if not cloudwatch and not s3:
        return
    started = state in ("RUNNING", "COMPLETED", "FAILED")
    finished = state in ("COMPLETED", "FAILED")
    account = (account_id, region)
    with _LOCK:
        written = getattr(job, "_logs_written", set())
        job._logs_written = written
        group = cloudwatch.get("logGroupName") if isinstance(cloudwatch, dict) else None
        prefix = (cloudwatch.get("logStreamNamePrefix") or "") if isinstance(cloudwatch, dict) else ""
        if started and "first" not in written:
            written.add("first")
            if group:
                _put_cloudwatch(job, account, group, prefix, driver_pod(job.id), _first_lines(job))
        if finished and "last" not in written:
            written.add("last")
            driver, executor = _last_lines(job, state)
            if group:
                _put_cloudwatch(job, account, group, prefix, driver_pod(job.id), driver)
                _put_cloudwatch(job, account, group, prefix, executor_pod(job.id, 1), executor)
            log_uri = s3.get("logUri") if isinstance(s3, dict) else None
            if log_uri:
                first = _first_lines(job)
                whole = {k: first[k] + driver[k] for k in driver}
                _put_s3(job, account, log_uri, driver_pod(job.id), whole)
                _put_s3(job, account, log_uri, executor_pod(job.id, 1), executor)
