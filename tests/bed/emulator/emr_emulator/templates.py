"""Job templates, which moto does not have: Create/Describe/List/DeleteJobTemplate and what
StartJobRun makes of a template.

EMR's semantics, as documented: a template stores the values of a StartJobRun request and
"enforces" them. A run started from a template takes the template's executionRoleArn,
releaseLabel and jobDriver (whatever the request says), the template's configurationOverrides
when it has them, and the template's jobTags with the request's tags added. Every `${name}` in
those values is replaced by the run's `jobTemplateParameters[name]`, else the parameter's
`defaultValue`; a referenced parameter with neither, a parameter the template does not declare,
or a NUMBER parameter that is not a number is a ValidationException.
"""

import re
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

from .scenario import ValidationException

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]\w*)\}")
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class JobTemplate:
    id: str
    name: str
    arn: str
    client_token: str
    data: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    kms_key_arn: str | None = None
    created_epoch: float = field(default_factory=time.time)
    created_by: str = ""

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "id": self.id,
            "arn": self.arn,
            "createdAt": self.created_epoch,
            "createdBy": self.created_by,
            "tags": self.tags,
            "jobTemplateData": self.data,
        }
        if self.kms_key_arn:
            out["kmsKeyArn"] = self.kms_key_arn
        return out


def new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(25))


def validate_data(data: Any) -> dict[str, Any]:
    """The checks CreateJobTemplate makes beyond the shapes moto parses."""
    if not isinstance(data, dict):
        raise ValidationException("jobTemplateData is required")
    for key in ("executionRoleArn", "releaseLabel", "jobDriver"):
        if not data.get(key):
            raise ValidationException(f"jobTemplateData.{key} is required")
    declared = data.get("parameterConfiguration") or {}
    for name, config in declared.items():
        kind = (config or {}).get("type", "STRING")
        if kind not in ("STRING", "NUMBER"):
            raise ValidationException(f"parameter {name}: type must be STRING or NUMBER")
    for name in sorted(_referenced(data)):
        if name not in declared:
            raise ValidationException(f"${{{name}}} is used but not declared in parameterConfiguration")
    return data


def _referenced(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(_referenced(v) for k, v in value.items() if k != "parameterConfiguration"))
    if isinstance(value, list):
        return set().union(*(_referenced(v) for v in value))
    return set()


def parameter_values(data: dict[str, Any], given: dict[str, str] | None) -> dict[str, str]:
    """Every declared parameter's value for one run: given, else its default."""
    declared = data.get("parameterConfiguration") or {}
    given = given or {}
    for name in given:
        if name not in declared:
            raise ValidationException(f"job template parameter {name} is not declared by the template")
    values: dict[str, str] = {}
    for name, config in declared.items():
        config = config or {}
        if name in given:
            value = given[name]
        elif config.get("defaultValue") is not None:
            value = config["defaultValue"]
        else:
            continue
        if config.get("type") == "NUMBER" and not _is_number(value):
            raise ValidationException(f"job template parameter {name} must be a NUMBER, got {value!r}")
        values[name] = value
    return values


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def substitute(value: Any, values: dict[str, str]) -> Any:
    """`value` with every `${name}` replaced; a referenced parameter without a value is an error."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise ValidationException(f"job template parameter {name} is required: it has no value and no default")
            return values[name]

        return _PLACEHOLDER.sub(replace, value)
    if isinstance(value, dict):
        return {k: substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    return value


def merged_request(template: JobTemplate, request: dict[str, Any], given: dict[str, str] | None) -> dict[str, Any]:
    """The StartJobRun request a run from `template` amounts to (template values enforced)."""
    data = template.data
    values = parameter_values(data, given)
    resolved = substitute({k: v for k, v in data.items() if k != "parameterConfiguration"}, values)
    merged = dict(request)
    merged["executionRoleArn"] = resolved["executionRoleArn"]
    merged["releaseLabel"] = resolved["releaseLabel"]
    merged["jobDriver"] = resolved["jobDriver"]
    if resolved.get("configurationOverrides"):
        merged["configurationOverrides"] = resolved["configurationOverrides"]
    merged["tags"] = {**(request.get("tags") or {}), **(resolved.get("jobTags") or {})}
    return merged
