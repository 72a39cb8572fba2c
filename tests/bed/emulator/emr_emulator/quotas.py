"""Service quotas and documented rules that matter to the operator, beyond what the service
models state, each with where it comes from. ``MODEL_LIMITS`` lists the limits the models do
state and that the operator must respect; the emulator enforces those through ``shapes`` and the
tests check the models still say so.
"""

from dataclasses import dataclass
from typing import Any

# IAM "Role trust policy length": 2,048 characters by default, adjustable up to 4,096; IAM does
# not count white space. IAM User Guide, "IAM and AWS STS quotas", section "IAM and STS character
# limits" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). Going
# over answers HTTP 409 LimitExceeded "Cannot exceed quota for ACLSizePerRole: 2048" (the error
# shape LimitExceededException of UpdateAssumeRolePolicy and CreateRole in the IAM model).
IAM_TRUST_POLICY_MAX_CHARS = 2048

# Tag keys starting with "aws:" are reserved for AWS. Amazon EMR on EKS Developer Guide,
# "Tagging your Amazon EMR on EKS resources", "Tag restrictions"
# (https://docs.aws.amazon.com/emr/latest/EMR-on-EKS-DevelopmentGuide/tag-resources.html), which
# also states at most 50 tags per resource, keys 1-128 and values 0-256 characters: the model's
# TagMap (max 50), String128 and StringEmpty256 say the same and are enforced from the model.
RESERVED_TAG_PREFIX = "aws:"

# Operations whose input names a trust policy document, and the member holding it.
_TRUST_POLICY_MEMBERS = {
    ("iam", "UpdateAssumeRolePolicy"): "PolicyDocument",
    ("iam", "CreateRole"): "AssumeRolePolicyDocument",
}


@dataclass(frozen=True)
class ModelLimit:
    """A limit the emulator enforces from botocore's model, with the model's numbers as of the
    pinned botocore (``tests/test_strict.py`` fails if a new botocore changes them)."""

    service: str
    operation: str
    member_path: tuple[str, ...]
    metadata: dict[str, Any]


# From botocore's emr-containers model (service-2.json, API version 2020-10-01): the client
# token (ClientToken), the job run name (ResourceNameString), StartJobRun's entryPointArguments
# items (EntryPointArgument) and sparkSubmitParameters (SparkSubmitParameters), the tag map.
MODEL_LIMITS = (
    ModelLimit("emr-containers", "StartJobRun", ("clientToken",), {"min": 1, "max": 64}),
    ModelLimit("emr-containers", "StartJobRun", ("name",), {"min": 1, "max": 64}),
    ModelLimit(
        "emr-containers",
        "StartJobRun",
        ("jobDriver", "sparkSubmitJobDriver", "entryPointArguments", "[]"),
        {"min": 1, "max": 10280},
    ),
    ModelLimit(
        "emr-containers",
        "StartJobRun",
        ("jobDriver", "sparkSubmitJobDriver", "sparkSubmitParameters"),
        {"min": 1, "max": 102400},
    ),
    ModelLimit("emr-containers", "StartJobRun", ("tags",), {"min": 0, "max": 50}),
    ModelLimit("emr-containers", "StartJobRun", ("tags", "{key}"), {"min": 1, "max": 128}),
    ModelLimit("emr-containers", "StartJobRun", ("tags", "{value}"), {"min": 0, "max": 256}),
    ModelLimit("emr-containers", "CreateVirtualCluster", ("clientToken",), {"min": 1, "max": 64}),
    ModelLimit("emr-containers", "CreateVirtualCluster", ("name",), {"min": 1, "max": 64}),
)


@dataclass(frozen=True)
class QuotaBreach:
    """A request over a quota: the service's own error code, HTTP status and message."""

    code: str
    status: int
    message: str


def policy_size(document: str) -> int:
    """A policy's size as IAM counts it against its quotas: characters other than white space."""
    return sum(1 for ch in document if not ch.isspace())


def check(service: str | None, operation: str | None, params: dict[str, Any]) -> QuotaBreach | None:
    member = _TRUST_POLICY_MEMBERS.get((service or "", operation or ""))
    if member is not None:
        document = params.get(member)
        if isinstance(document, str) and policy_size(document) > IAM_TRUST_POLICY_MAX_CHARS:
            return QuotaBreach(
                "LimitExceeded", 409, f"Cannot exceed quota for ACLSizePerRole: {IAM_TRUST_POLICY_MAX_CHARS}"
            )
    if service == "emr-containers":
        tags = params.get("tags")
        if isinstance(tags, dict):
            reserved = sorted(k for k in tags if isinstance(k, str) and k.lower().startswith(RESERVED_TAG_PREFIX))
            if reserved:
                return QuotaBreach(
                    "ValidationException",
                    400,
                    f"Tag keys starting with '{RESERVED_TAG_PREFIX}' are reserved for AWS use: {', '.join(reserved)}",
                )
    return None
