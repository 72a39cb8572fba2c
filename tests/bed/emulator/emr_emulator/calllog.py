"""The call log: every AWS request served, and every StartJobRun body as received.

Tests read it to assert what the operator did (how many job runs it started, with what
request, how it retried) rather than only what state it ended in.
"""

import threading
import time
from datetime import UTC, datetime
from typing import Any

# Bounded so a long soak test cannot grow the emulator without limit.
MAX_ENTRIES = 100_000


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._calls: list[dict[str, Any]] = []
        self._start_job_runs: list[dict[str, Any]] = []

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._start_job_runs.clear()

    def record(
        self,
        *,
        started: float,
        service: str | None,
        operation: str | None,
        method: str,
        path: str,
        status: int,
        fault: str | None,
        virtual_cluster_id: str | None,
        job_run_id: str | None,
        start_job_run_body: Any = None,
        access_key_id: str | None = None,
        error: str | None = None,
    ) -> None:
        finished = time.time()
        with self._lock:
            self._seq += 1
            entry = {
                "seq": self._seq,
                "time": _iso(started),
                "epoch": round(started, 6),
                "durationMs": round((finished - started) * 1000, 1),
                "service": service,
                "operation": operation,
                "method": method,
                "path": path,
                "status": status,
                "fault": fault,
                "virtualClusterId": virtual_cluster_id,
                "jobRunId": job_run_id,
                "accessKeyId": access_key_id,
                # The emulator's own answer (strict validation), e.g. "ValidationException: ...".
                "error": error,
            }
            self._calls.append(entry)
            del self._calls[:-MAX_ENTRIES]
            if start_job_run_body is not None:
                self._start_job_runs.append(
                    {
                        "seq": self._seq,
                        "time": entry["time"],
                        "epoch": entry["epoch"],
                        "virtualClusterId": virtual_cluster_id,
                        "status": status,
                        "fault": fault,
                        "jobRunId": job_run_id,
                        "body": start_job_run_body,
                    }
                )
                del self._start_job_runs[:-MAX_ENTRIES]

    def calls(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._calls)
        return _filter(entries, filters)

    def start_job_runs(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._start_job_runs)
        return _filter(entries, filters)


def _filter(entries: list[dict[str, Any]], filters: dict[str, str]) -> list[dict[str, Any]]:
    for key in ("service", "operation", "virtualClusterId", "jobRunId", "fault", "accessKeyId"):
        if key in filters:
            entries = [e for e in entries if str(e.get(key)) == filters[key]]
    if "status" in filters:
        entries = [e for e in entries if str(e["status"]) == filters["status"]]
    if "sinceSeq" in filters:
        try:
            since = int(filters["sinceSeq"])
        except ValueError:
            since = 0
        entries = [e for e in entries if e["seq"] > since]
    return entries
