"""EKS Fargate profiles as EKS runs them, where moto does not.

moto makes a profile ACTIVE at once and deletes it at once, and lets any number of profile
operations run together. EKS (EKS API reference, CreateFargateProfile / DeleteFargateProfile):

- a new profile is CREATING for a while, then ACTIVE; a deleted one is DELETING, then gone;
- one profile operation at a time per cluster: while a profile of the cluster is CREATING or
  DELETING, CreateFargateProfile and DeleteFargateProfile of another profile answer
  ResourceInUseException ("Cannot create Fargate Profile b because cluster c currently has
  Fargate profile a in status CREATING", as terraform-provider-aws and aws-cdk users report it);
- a profile cannot be deleted while it is being created (ResourceInUseException);
- a clientRequestToken already used for this profile returns it instead of failing.

States follow the clock on every read (timings ``fargate_creating_seconds`` and
``fargate_deleting_seconds``), like the job runs in emr.py; no background thread.
"""

import threading
import time
from typing import Any

from moto.eks import models as moto_models
from moto.eks import urls as moto_urls
from moto.eks.exceptions import ResourceInUseException, ResourceNotFoundException

from .settings import Timings

_LOCK = threading.RLock()
_TIMINGS: Timings | None = None


def _timings() -> Timings:
    if _TIMINGS is None:
        raise RuntimeError("emr_emulator.fargate.install() was not called")
    return _TIMINGS


class EmulatedFargateProfile(moto_models.FargateProfile):
    """A profile whose status follows the clock from its creation and deletion."""

    def __init__(self, **kwargs: Any) -> None:
        self.created_epoch = time.time()
        self.deleted_at: float | None = None
        super().__init__(**kwargs)

    def status_at(self, now: float) -> str | None:
        """EKS's status at ``now``; None once a deleted profile is gone."""
        t = _timings()
        if self.deleted_at is not None:
            return "DELETING" if now < self.deleted_at + t.fargate_deleting_seconds else None
        return "CREATING" if now < self.created_epoch + t.fargate_creating_seconds else "ACTIVE"

    @property
    def status(self) -> str:
        return self.status_at(time.time()) or "DELETING"

    @status.setter
    def status(self, _value: str) -> None:
        # moto's constructor assigns ACTIVE; the status is derived from the clock instead.
        pass


def _in_use(cluster: Any, name: str, verb: str) -> None:
    """Refuses an operation on ``name`` while another profile of the cluster is in progress."""
    now = time.time()
    for other in cluster.fargate_profiles.values():
        if other.fargate_profile_name == name or not isinstance(other, EmulatedFargateProfile):
            continue
        status = other.status_at(now)
        if status in ("CREATING", "DELETING"):
            raise ResourceInUseException(
                clusterName=None,
                nodegroupName=None,
                addonName=None,
                message=(
                    f"Cannot {verb} Fargate Profile {name} because cluster {cluster.name} currently has "
                    f"Fargate profile {other.fargate_profile_name} in status {status}"
                ),
            )


def _purge(cluster: Any) -> None:
    """Drops profiles whose deletion has finished."""
    now = time.time()
    for name, profile in list(cluster.fargate_profiles.items()):
        if isinstance(profile, EmulatedFargateProfile) and profile.status_at(now) is None:
            del cluster.fargate_profiles[name]
            cluster.fargate_profile_count -= 1


def _cluster(backend: Any, cluster_name: str) -> Any:
    try:
        return backend.clusters[cluster_name]
    except KeyError:
        raise ResourceNotFoundException(
            clusterName=None,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message=moto_models.CLUSTER_NOT_FOUND_MSG.format(clusterName=cluster_name),
        ) from None


class EmulatedBackend(moto_models.EKSBackend):
    @property
    def _url_module(self) -> Any:
        # moto finds a backend's routes next to its module; this one lives elsewhere.
        return moto_urls

    def create_fargate_profile(
        self,
        fargate_profile_name: str,
        cluster_name: str,
        selectors: list[dict[str, Any]],
        pod_execution_role_arn: str,
        subnets: list[str] | None = None,
        client_request_token: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> moto_models.FargateProfile:
        with _LOCK:
            cluster = _cluster(self, cluster_name)
            _purge(cluster)
            existing = cluster.fargate_profiles.get(fargate_profile_name)
            if existing is not None and client_request_token and existing.client_request_token == client_request_token:
                return existing
            if existing is None:
                _in_use(cluster, fargate_profile_name, "create")
            # moto refuses a taken name (ResourceInUseException) and checks the selectors.
            profile = super().create_fargate_profile(
                fargate_profile_name=fargate_profile_name,
                cluster_name=cluster_name,
                selectors=selectors,
                pod_execution_role_arn=pod_execution_role_arn,
                subnets=subnets,
                client_request_token=client_request_token,
                tags=tags,
            )
            emulated = EmulatedFargateProfile(
                cluster_name=cluster_name,
                fargate_profile_name=fargate_profile_name,
                pod_execution_role_arn=pod_execution_role_arn,
                selectors=selectors,
                account_id=self.account_id,
                region_name=self.region_name,
                aws_partition=self.partition,
                client_request_token=client_request_token,
                subnets=subnets,
                tags=tags,
            )
            emulated.fargate_profile_arn = profile.fargate_profile_arn
            cluster.fargate_profiles[fargate_profile_name] = emulated
            return emulated

    def describe_fargate_profile(self, cluster_name: str, fargate_profile_name: str) -> moto_models.FargateProfile:
        with _LOCK:
            _purge(_cluster(self, cluster_name))
            return super().describe_fargate_profile(cluster_name, fargate_profile_name)

    def list_fargate_profiles(self, cluster_name: str, max_results: int, next_token: str | None) -> Any:
        with _LOCK:
            _purge(_cluster(self, cluster_name))
            return super().list_fargate_profiles(cluster_name, max_results, next_token)

    def delete_fargate_profile(self, cluster_name: str, fargate_profile_name: str) -> moto_models.FargateProfile:
        with _LOCK:
            cluster = _cluster(self, cluster_name)
            _purge(cluster)
            profile = cluster.fargate_profiles.get(fargate_profile_name)
            if not isinstance(profile, EmulatedFargateProfile):
                # Unknown name: moto's ResourceNotFoundException.
                return super().delete_fargate_profile(cluster_name, fargate_profile_name)
            status = profile.status_at(time.time())
            if status in ("CREATING", "DELETING"):
                raise ResourceInUseException(
                    clusterName=None,
                    nodegroupName=None,
                    addonName=None,
                    message=f"Fargate Profile {fargate_profile_name} is in status {status}",
                )
            _in_use(cluster, fargate_profile_name, "delete")
            profile.deleted_at = time.time()
            return profile


def install(timings: Timings) -> None:
    """Swaps the emulated EKS backend into moto. Must run before the first request."""
    global _TIMINGS
    _TIMINGS = timings
    moto_models.eks_backends.backend = EmulatedBackend
    moto_models.eks_backends.clear()
