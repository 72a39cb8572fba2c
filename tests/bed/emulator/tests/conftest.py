"""Starts one real emulator process on a free port for the whole session; every test
gets a reset emulator and boto3 clients that never retry (so a fault is seen as is)."""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from helpers import create_vc

EMULATOR_DIR = Path(__file__).resolve().parent.parent

# Short default timings keep the suite fast; tests that need a state to last use tags.
TEST_TIMINGS = {
    "EMULATOR_PENDING_SECONDS": "0.4",
    "EMULATOR_SUBMITTED_SECONDS": "0.4",
    "EMULATOR_RUN_SECONDS": "0.8",
    "EMULATOR_CANCEL_PENDING_SECONDS": "0.5",
    "EMULATOR_VC_TERMINATING_SECONDS": "1.5",
    "EMULATOR_FARGATE_CREATING_SECONDS": "0.8",
    "EMULATOR_FARGATE_DELETING_SECONDS": "0.8",
}


class Emulator:
    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def faults(self, **config: Any) -> Any:
        return self.request("POST", "/_emulator/faults", config)

    def calls(self, query: str = "") -> list[dict[str, Any]]:
        return self.request("GET", f"/_emulator/calls{query}")["calls"]

    def start_requests(self, query: str = "") -> list[dict[str, Any]]:
        return self.request("GET", f"/_emulator/start-job-run-requests{query}")["requests"]

    def reset(self) -> None:
        self.request("POST", "/_emulator/reset", {})


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with tempfile.TemporaryDirectory(prefix="emr-emulator-test-") as tmp:
        port_file = Path(tmp) / "port"
        log_path = Path(tmp) / "emulator.log"
        env = {**os.environ, **TEST_TIMINGS, "PYTHONPATH": str(EMULATOR_DIR)}
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "emr_emulator",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--port-file",
                    str(port_file),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            url = _wait_ready(proc, port_file, log_path)
            yield Emulator(url)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], port_file: Path, log_path: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"emulator exited with {proc.returncode}:\n{log_path.read_text()}")
        if port_file.exists():
            url = f"http://127.0.0.1:{port_file.read_text().strip()}"
            try:
                with urllib.request.urlopen(url + "/_emulator/health", timeout=2):
                    return url
            except (urllib.error.URLError, ConnectionError):
                pass
        time.sleep(0.1)
    pytest.fail(f"emulator not ready within 30 s:\n{log_path.read_text()}")


@pytest.fixture(autouse=True)
def _reset(emulator: Emulator) -> None:
    emulator.reset()


@pytest.fixture
def client(emulator: Emulator) -> Callable[[str], Any]:
    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=emulator.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    return make


@pytest.fixture
def emr(client: Callable[[str], Any]) -> Any:
    return client("emr-containers")


@pytest.fixture
def vc(emr: Any) -> str:
    return create_vc(emr, "ns-test")
