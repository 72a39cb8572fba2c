"""Patches to moto's emr-containers so it behaves like EMR on EKS where moto does not.

Only the backend's models and methods are replaced: moto still parses every request
and serializes every response from the service model, so shapes stay real. States are
computed from the clock on every read, which keeps DescribeJobRun, ListJobRuns and its
``states`` filter in agreement without any background thread.
"""

import logging
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult, PaginatedResult
from moto.emrcontainers import models as moto_models
from moto.emrcontainers import responses as moto_responses
from moto.emrcontainers import urls as moto_urls
from moto.emrcontainers.exceptions import ResourceNotFoundException

from . import scenario as scenarios
from . import joblogs, securityconfigs, templates
from .scenario import Scenario, ValidationException
from .settings import Timings

TERMINAL_JOB_STATES = ("FAILED", "CANCELLED", "COMPLETED")

# One lock for every mutation: moto's server is threaded, and a start or cancel must
# not interleave with the idempotency and attempt bookkeeping of another request.
_LOCK = threading.RLock()
_TIMINGS: Timings | None = None
_LOG = logging.getLogger(__name__)


def _timings() -> Timings:
    if _TIMINGS is None:
        raise RuntimeError("emr_emulator.emr.install() was not called")
    return _TIMINGS


def _naive_utc(epoch: float) -> datetime:
    # moto keeps naive UTC datetimes (its utcnow()) and compares request filters against them.
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


class EmulatedVirtualCluster(moto_models.VirtualCluster):
    """A virtual cluster with a real createdAt and a short TERMINATING after delete."""

    def __init__(self, **kwargs: Any) -> None:
        self.deleted_at: float | None = None
        super().__init__(**kwargs)
        self.created_at = _naive_utc(time.time())

    @property
    def state(self) -> str:
        if self.deleted_at is None:
            return "RUNNING"
        if time.time() < self.deleted_at + _timings().vc_terminating_seconds:
            return "TERMINATING"
        return "TERMINATED"

    @state.setter
    def state(self, _value: str) -> None:
        # moto's constructor assigns RUNNING; the state is derived from deleted_at instead.
        pass


class EmulatedJobRun(moto_models.JobRun):
    """A job run whose state follows a timeline fixed at StartJobRun time."""

    def __init__(
        self,
        *,
        scenario: Scenario,
        attempt: int,
        retry_policy_configuration: dict[str, Any] | None,
        **kwargs: Any,
    ) -> None:
        self.scenario = scenario
        self.attempt = attempt
        self.final_state, self.final_failure_reason = scenarios.effective_outcome(scenario, attempt)
        self.cancel_requested_at: float | None = None
        super().__init__(**kwargs)
        self.created_epoch = time.time()
        self.created_at = _naive_utc(self.created_epoch)
        self.created_by = f"arn:aws:iam::{kwargs['account_id']}:root"
        self.retry_policy_configuration = retry_policy_configuration
        # The emulator never restarts a driver, so every run is on its first attempt.
        self.retry_policy_execution = {"currentAttemptCount": 1} if retry_policy_configuration else None

    def _natural_end(self) -> float:
        s = self.scenario
        return self.created_epoch + s.pending_seconds + s.submitted_seconds + s.run_seconds

    def status_at(self, now: float) -> tuple[str, float | None]:
        """(state, finished epoch or None) at wall-clock time ``now``."""
        s = self.scenario
        end = self._natural_end()
        if self.cancel_requested_at is not None and self.cancel_requested_at < end:
            cancelled_at = self.cancel_requested_at + s.cancel_pending_seconds
            if now >= cancelled_at:
                return "CANCELLED", cancelled_at
            if now >= self.cancel_requested_at:
                return "CANCEL_PENDING", None
        if now < self.created_epoch + s.pending_seconds:
            return "PENDING", None
        if now < self.created_epoch + s.pending_seconds + s.submitted_seconds:
            return "SUBMITTED", None
        if now < end:
            return "RUNNING", None
        return self.final_state, end

    def was_cancelled_by_request(self) -> bool:
        return self.cancel_requested_at is not None and self.cancel_requested_at < self._natural_end()

    @property
    def state(self) -> str:
        return self.status_at(time.time())[0]

    @state.setter
    def state(self, _value: str) -> None:
        pass

    @property
    def finished_at(self) -> datetime | None:
        finished = self.status_at(time.time())[1]
        return None if finished is None else _naive_utc(finished)

    @finished_at.setter
    def finished_at(self, _value: datetime | None) -> None:
        pass

    @property
    def failure_reason(self) -> str | None:
        return self.final_failure_reason if self.state == "FAILED" else None

    @failure_reason.setter
    def failure_reason(self, _value: str | None) -> None:
        pass

    @property
    def state_details(self) -> str | None:
        state = self.state
        if state == "FAILED":
            return self.scenario.state_details or (
                f"Job run failed with {self.final_failure_reason} (emulated, attempt {self.attempt})."
            )
        if state == "CANCELLED":
            if self.was_cancelled_by_request():
                return "JobRun CANCELLED successfully."
            return self.scenario.state_details or "Job run was cancelled (emulated)."
        return None

    @state_details.setter
    def state_details(self, _value: str | None) -> None:
        pass


class EmulatedBackend(moto_models.EMRContainersBackend):
    """moto's backend with EMR's semantics for the calls the operator makes."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        # (virtual cluster id, job run name) -> how many job runs were started with it.
        self.attempts: dict[tuple[str, str], int] = {}
        self.job_templates: dict[str, templates.JobTemplate] = {}
        self.security_configurations: dict[str, securityconfigs.SecurityConfiguration] = {}

    @property
    def _url_module(self) -> Any:
        # moto derives the URL table from the backend's module name; ours lives elsewhere.
        return moto_urls

    # --- virtual clusters -------------------------------------------------------------

    def create_virtual_cluster(
        self,
        name: str,
        container_provider: dict[str, Any],
        client_token: str,
        tags: dict[str, str] | None = None,
        security_configuration_id: str | None = None,
    ) -> moto_models.VirtualCluster:
        with _LOCK:
            if client_token:
                for vc in self.virtual_clusters.values():
                    if vc.client_token == client_token:
                        return vc
            if security_configuration_id and security_configuration_id not in self.security_configurations:
                raise ResourceNotFoundException(f"Security configuration {security_configuration_id} doesn't exist.")
            try:
                provider_id = container_provider["id"]
                namespace = container_provider["info"]["eksInfo"]["namespace"]
            except (KeyError, TypeError) as err:
                raise ValidationException("containerProvider needs id and info.eksInfo.namespace") from err
            for vc in self.virtual_clusters.values():
                # Real EMR: one non-terminated virtual cluster per (EKS cluster, namespace).
                if vc.container_provider_id == provider_id and vc.namespace == namespace and vc.state != "TERMINATED":
                    raise ValidationException("A virtual cluster already exists in the given namespace")
            vc = EmulatedVirtualCluster(
                name=name,
                container_provider=container_provider,
                client_token=client_token,
                tags=tags,
                account_id=self.account_id,
                region_name=self.region_name,
                aws_partition=self.partition,
            )
            vc.security_configuration_id = security_configuration_id
            self.virtual_clusters[vc.id] = vc
            self.virtual_cluster_count += 1
            return vc

    def delete_virtual_cluster(self, cluster_id: str) -> moto_models.VirtualCluster:
        with _LOCK:
            vc = self.virtual_clusters.get(cluster_id)
            if vc is None:
                raise ValidationException("VirtualCluster does not exist")
            if isinstance(vc, EmulatedVirtualCluster) and vc.deleted_at is None:
                vc.deleted_at = time.time()
            return vc

    def describe_virtual_cluster(self, cluster_id: str) -> moto_models.VirtualCluster:
        vc = self.virtual_clusters.get(cluster_id)
        if vc is None:
            # Real EMR answers ResourceNotFoundException (HTTP 400); moto says ValidationException.
            raise ResourceNotFoundException(f"Virtual cluster {cluster_id} doesn't exist.")
        return vc

    # --- job runs ---------------------------------------------------------------------

    def start_job_run(  # type: ignore[override]
        self,
        name: str,
        virtual_cluster_id: str,
        client_token: str,
        execution_role_arn: str,
        release_label: str,
        job_driver: str,
        configuration_overrides: dict[str, Any],
        tags: dict[str, str],
        retry_policy_configuration: dict[str, Any] | None = None,
        job_template_id: str | None = None,
        job_template_parameters: dict[str, str] | None = None,
    ) -> moto_models.JobRun:
        with _LOCK:
            vc = self.virtual_clusters.get(virtual_cluster_id)
            if vc is None:
                raise ResourceNotFoundException(f"Virtual cluster {virtual_cluster_id} doesn't exist.")
            if client_token:
                # Idempotency: the same token in the same virtual cluster is the same job run.
                for job in self.job_runs.values():
                    if job.virtual_cluster_id == virtual_cluster_id and job.client_token == client_token:
                        return job
            if vc.state != "RUNNING":
                raise ValidationException(f"Virtual cluster {virtual_cluster_id} is not in RUNNING state.")
            if job_template_id:
                template = self.describe_job_template(job_template_id)
                merged = templates.merged_request(
                    template,
                    {
                        "executionRoleArn": execution_role_arn,
                        "releaseLabel": release_label,
                        "jobDriver": job_driver,
                        "configurationOverrides": configuration_overrides,
                        "tags": tags,
                    },
                    job_template_parameters,
                )
                execution_role_arn = merged["executionRoleArn"]
                release_label = merged["releaseLabel"]
                job_driver = merged["jobDriver"]
                configuration_overrides = merged["configurationOverrides"]
                tags = merged["tags"]
            elif job_template_parameters:
                raise ValidationException("jobTemplateParameters given without jobTemplateId")
            # moto's release-label check, kept: EMR rejects unknown releases too.
            if not re.match(r"emr-[0-9]{1}\.[0-9]{1,2}\.0-(latest|[0-9]{8})", release_label or ""):
                raise ResourceNotFoundException(f"Release {release_label} doesn't exist.")
            scenario = scenarios.parse(tags, _timings())
            key = (virtual_cluster_id, name or "")
            attempt = self.attempts.get(key, 0) + 1
            job = EmulatedJobRun(
                scenario=scenario,
                attempt=attempt,
                retry_policy_configuration=retry_policy_configuration,
                name=name,
                virtual_cluster_id=virtual_cluster_id,
                client_token=client_token,
                execution_role_arn=execution_role_arn,
                release_label=release_label,
                job_driver=job_driver,
                configuration_overrides=configuration_overrides,
                tags=tags,
                account_id=self.account_id,
                region_name=self.region_name,
                aws_partition=self.partition,
            )
            self.attempts[key] = attempt
            self.job_runs[job.id] = job
            self.job_count += 1
            return job

    # --- job templates ----------------------------------------------------------------

    def create_job_template(
        self,
        name: str,
        client_token: str,
        job_template_data: Any,
        tags: dict[str, str] | None,
        kms_key_arn: str | None,
    ) -> templates.JobTemplate:
        with _LOCK:
            for template in self.job_templates.values():
                if client_token and template.client_token == client_token:
                    return template
            data = templates.validate_data(job_template_data)
            template_id = templates.new_id()
            template = templates.JobTemplate(
                id=template_id,
                name=name,
                arn=f"arn:{self.partition}:emr-containers:{self.region_name}:{self.account_id}:/jobtemplates/{template_id}",
                client_token=client_token,
                data=data,
                tags=tags or {},
                kms_key_arn=kms_key_arn,
                created_by=f"arn:{self.partition}:iam::{self.account_id}:root",
            )
            self.job_templates[template_id] = template
            return template

    def describe_job_template(self, template_id: str) -> templates.JobTemplate:
        template = self.job_templates.get(template_id)
        if template is None:
            raise ResourceNotFoundException(f"Job template {template_id} doesn't exist.")
        return template

    def list_job_templates(self, created_after: Any, created_before: Any) -> list[templates.JobTemplate]:
        found = sorted(self.job_templates.values(), key=lambda t: t.created_epoch)
        if created_after:
            after = _as_naive(created_after)
            found = [t for t in found if _naive_utc(t.created_epoch) >= after]
        if created_before:
            before = _as_naive(created_before)
            found = [t for t in found if _naive_utc(t.created_epoch) <= before]
        return found

    def delete_job_template(self, template_id: str) -> str:
        with _LOCK:
            self.describe_job_template(template_id)
            del self.job_templates[template_id]
            return template_id

    # --- security configurations ------------------------------------------------------

    def create_security_configuration(
        self,
        name: str,
        client_token: str,
        data: Any,
        tags: dict[str, str] | None,
    ) -> securityconfigs.SecurityConfiguration:
        with _LOCK:
            for existing in self.security_configurations.values():
                if client_token and existing.client_token == client_token:
                    return existing
            data = securityconfigs.validate_data(data)
            config_id = securityconfigs.new_id()
            config = securityconfigs.SecurityConfiguration(
                id=config_id,
                name=name,
                arn=f"arn:{self.partition}:emr-containers:{self.region_name}:{self.account_id}:/securityconfigurations/{config_id}",
                client_token=client_token,
                data=data,
                tags=tags or {},
                created_by=f"arn:{self.partition}:iam::{self.account_id}:root",
            )
            self.security_configurations[config_id] = config
            return config

    def describe_security_configuration(self, config_id: str) -> securityconfigs.SecurityConfiguration:
        config = self.security_configurations.get(config_id)
        if config is None:
            raise ResourceNotFoundException(f"Security configuration {config_id} doesn't exist.")
        return config

    def list_security_configurations(
        self, created_after: Any, created_before: Any
    ) -> list[securityconfigs.SecurityConfiguration]:
        found = sorted(self.security_configurations.values(), key=lambda c: c.created_epoch)
        if created_after:
            after = _as_naive(created_after)
            found = [c for c in found if _naive_utc(c.created_epoch) >= after]
        if created_before:
            before = _as_naive(created_before)
            found = [c for c in found if _naive_utc(c.created_epoch) <= before]
        return found

    def delete_security_configuration(self, config_id: str) -> str:
        with _LOCK:
            self.describe_security_configuration(config_id)
            del self.security_configurations[config_id]
            return config_id

    def _job(self, job_run_id: str, virtual_cluster_id: str) -> moto_models.JobRun:
        job = self.job_runs.get(job_run_id)
        if job is None or job.virtual_cluster_id != virtual_cluster_id:
            raise ResourceNotFoundException(f"Job run {job_run_id} doesn't exist.")
        return job

    def cancel_job_run(self, job_run_id: str, virtual_cluster_id: str) -> moto_models.JobRun:
        with _LOCK:
            job = self._job(job_run_id, virtual_cluster_id)
            now = time.time()
            state = job.state
            if state in TERMINAL_JOB_STATES or state == "CANCEL_PENDING":
                raise ValidationException(f"Job run {job_run_id} is not in a cancellable state")
            if isinstance(job, EmulatedJobRun):
                job.cancel_requested_at = now
            return job

    def describe_job_run(self, job_run_id: str, virtual_cluster_id: str) -> moto_models.JobRun:
        job = self._job(job_run_id, virtual_cluster_id)
        _publish_logs(job, self.account_id, self.region_name)
        return job

    def list_job_runs(
        self,
        virtual_cluster_id: str,
        created_before: datetime,
        created_after: datetime,
        name: str,
        states: list[str] | None,
    ) -> list[moto_models.JobRun]:
        now = time.time()
        jobs = [j for j in list(self.job_runs.values()) if j.virtual_cluster_id == virtual_cluster_id]
        if created_after:
            jobs = [j for j in jobs if j.created_at >= _as_naive(created_after)]
        if created_before:
            jobs = [j for j in jobs if j.created_at <= _as_naive(created_before)]
        if states:
            # One clock reading for the whole page, so a run cannot be filtered in one state
            # and reported in the next.
            jobs = [j for j in jobs if _state_at(j, now) in states]
        if name:
            # moto matches substrings of the filter; EMR matches the name.
            jobs = [j for j in jobs if j.name == name]
        for job in jobs:
            _publish_logs(job, self.account_id, self.region_name)
        return jobs


def _publish_logs(job: moto_models.JobRun, account_id: str, region: str) -> None:
    # EMR ships container logs on its own; a destination it cannot write to never fails a read.
    try:
        joblogs.publish(job, job.state, account_id, region)
    except Exception as err:  # noqa: BLE001
        _LOG.warning("writing the logs of job run %s: %s", job.id, err)


def _as_naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _state_at(job: moto_models.JobRun, now: float) -> str:
    if isinstance(job, EmulatedJobRun):
        return job.status_at(now)[0]
    return job.state


def _start_job_run_response(self: moto_responses.EMRContainersResponse) -> ActionResult:
    """moto's handler, plus retryPolicyConfiguration, which moto drops."""
    job_run = self.emrcontainers_backend.start_job_run(
        name=self._get_param("name"),
        virtual_cluster_id=self._get_param("virtualClusterId"),
        client_token=self._get_param("clientToken"),
        execution_role_arn=self._get_param("executionRoleArn"),
        release_label=self._get_param("releaseLabel"),
        job_driver=self._get_param("jobDriver"),
        configuration_overrides=self._get_param("configurationOverrides"),
        tags=self._get_param("tags"),
        retry_policy_configuration=self._get_param("retryPolicyConfiguration"),
        job_template_id=self._get_param("jobTemplateId"),
        job_template_parameters=self._get_param("jobTemplateParameters"),
    )
    return ActionResult(
        {
            "id": job_run.id,
            "name": job_run.name,
            "arn": job_run.arn,
            "virtualClusterId": job_run.virtual_cluster_id,
        }
    )


def _create_job_template(self: moto_responses.EMRContainersResponse) -> ActionResult:
    template = self.emrcontainers_backend.create_job_template(
        name=self._get_param("name"),
        client_token=self._get_param("clientToken"),
        job_template_data=self._get_param("jobTemplateData"),
        tags=self._get_param("tags"),
        kms_key_arn=self._get_param("kmsKeyArn"),
    )
    return ActionResult(
        {"id": template.id, "name": template.name, "arn": template.arn, "createdAt": template.created_epoch}
    )


def _describe_job_template(self: moto_responses.EMRContainersResponse) -> ActionResult:
    template = self.emrcontainers_backend.describe_job_template(self._get_param("templateId"))
    return ActionResult({"jobTemplate": template.describe()})


def _list_job_templates(self: moto_responses.EMRContainersResponse) -> ActionResult:
    found = self.emrcontainers_backend.list_job_templates(
        created_after=self._get_param("createdAfter"),
        created_before=self._get_param("createdBefore"),
    )
    return PaginatedResult({"templates": [t.describe() for t in found]})


def _delete_job_template(self: moto_responses.EMRContainersResponse) -> ActionResult:
    template_id = self.emrcontainers_backend.delete_job_template(self._get_param("templateId"))
    return ActionResult({"id": template_id})


def _create_virtual_cluster(self: moto_responses.EMRContainersResponse) -> ActionResult:
    """moto's handler, plus securityConfigurationId, which moto drops."""
    vc = self.emrcontainers_backend.create_virtual_cluster(
        name=self._get_param("name"),
        container_provider=self._get_param("containerProvider"),
        client_token=self._get_param("clientToken"),
        tags=self._get_param("tags"),
        security_configuration_id=self._get_param("securityConfigurationId"),
    )
    return ActionResult({"id": vc.id, "name": vc.name, "arn": vc.arn})


def _create_security_configuration(self: moto_responses.EMRContainersResponse) -> ActionResult:
    config = self.emrcontainers_backend.create_security_configuration(
        name=self._get_param("name"),
        client_token=self._get_param("clientToken"),
        data=self._get_param("securityConfigurationData"),
        tags=self._get_param("tags"),
    )
    return ActionResult({"id": config.id, "name": config.name, "arn": config.arn})


def _describe_security_configuration(self: moto_responses.EMRContainersResponse) -> ActionResult:
    config = self.emrcontainers_backend.describe_security_configuration(self._get_param("securityConfigurationId"))
    return ActionResult({"securityConfiguration": config.describe()})


def _list_security_configurations(self: moto_responses.EMRContainersResponse) -> ActionResult:
    found = self.emrcontainers_backend.list_security_configurations(
        created_after=self._get_param("createdAfter"),
        created_before=self._get_param("createdBefore"),
    )
    return PaginatedResult({"securityConfigurations": [c.describe() for c in found]})


def _delete_security_configuration(self: moto_responses.EMRContainersResponse) -> ActionResult:
    config_id = self.emrcontainers_backend.delete_security_configuration(self._get_param("securityConfigurationId"))
    return ActionResult({"id": config_id})


# moto routes only virtual clusters and job runs; job templates live under /jobtemplates and
# security configurations under /securityconfigurations.
_TEMPLATE_PATHS = {
    "{0}/jobtemplates$": moto_responses.EMRContainersResponse.dispatch,
    "{0}/jobtemplates/(?P<templateId>[^/]+)$": moto_responses.EMRContainersResponse.dispatch,
    "{0}/securityconfigurations$": moto_responses.EMRContainersResponse.dispatch,
    "{0}/securityconfigurations/(?P<securityConfigurationId>[^/]+)$": moto_responses.EMRContainersResponse.dispatch,
}


def install(timings: Timings) -> None:
    """Swaps the emulated backend into moto. Must run before the first request."""
    global _TIMINGS
    _TIMINGS = timings
    # BackendDict builds backends lazily from this class, per account and region, and
    # rebuilds them on moto's reset, so replacing the class is enough.
    moto_models.emrcontainers_backends.backend = EmulatedBackend
    moto_models.emrcontainers_backends.clear()
    moto_responses.EMRContainersResponse.start_job_run = _start_job_run_response
    moto_responses.EMRContainersResponse.create_job_template = _create_job_template
    moto_responses.EMRContainersResponse.describe_job_template = _describe_job_template
    moto_responses.EMRContainersResponse.list_job_templates = _list_job_templates
    moto_responses.EMRContainersResponse.delete_job_template = _delete_job_template
    moto_responses.EMRContainersResponse.create_virtual_cluster = _create_virtual_cluster
    moto_responses.EMRContainersResponse.create_security_configuration = _create_security_configuration
    moto_responses.EMRContainersResponse.describe_security_configuration = _describe_security_configuration
    moto_responses.EMRContainersResponse.list_security_configurations = _list_security_configurations
    moto_responses.EMRContainersResponse.delete_security_configuration = _delete_security_configuration
    moto_urls.url_paths.update(_TEMPLATE_PATHS)
