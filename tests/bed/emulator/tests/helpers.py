"""Small helpers shared by the emulator's tests."""

import time
from typing import Any

ROLE_ARN = "arn:aws:iam::123456789012:role/emr-job-role"
RELEASE = "emr-7.2.0-latest"
DRIVER = {"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/job.py", "entryPointArguments": ["a"]}}


def create_vc(emr: Any, namespace: str, token: str | None = None, cluster: str = "eks-1") -> str:
    kwargs: dict[str, Any] = {}
    if token is not None:
        kwargs["clientToken"] = token
    resp = emr.create_virtual_cluster(
        name=f"vc-{namespace}",
        containerProvider={"type": "EKS", "id": cluster, "info": {"eksInfo": {"namespace": namespace}}},
        **kwargs,
    )
    return resp["id"]


def start(emr: Any, vc_id: str, name: str = "job", tags: dict[str, str] | None = None, **extra: Any) -> str:
    resp = emr.start_job_run(
        name=name,
        virtualClusterId=vc_id,
        executionRoleArn=ROLE_ARN,
        releaseLabel=RELEASE,
        jobDriver=DRIVER,
        tags=tags or {},
        **extra,
    )
    return resp["id"]


def describe(emr: Any, vc_id: str, job_id: str) -> dict[str, Any]:
    return emr.describe_job_run(id=job_id, virtualClusterId=vc_id)["jobRun"]


def wait_for(emr: Any, vc_id: str, job_id: str, states: set[str], timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = describe(emr, vc_id, job_id)
        if run["state"] in states:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {run['state']} after {timeout} s, wanted {states}")
        time.sleep(0.05)


# Instant jobs: straight to their terminal state, for tests about outcomes, not timing.
INSTANT = {"emulator/pending-seconds": "0", "emulator/submitted-seconds": "0", "emulator/run-seconds": "0"}
