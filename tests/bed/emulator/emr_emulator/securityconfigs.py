"""Security configurations, which moto does not have: Create/Describe/List/DeleteSecurityConfiguration
and what CreateVirtualCluster makes of `securityConfigurationId`.

EMR's semantics: a security configuration cannot be updated (no Update call); the same client
token returns the one made for it; a virtual cluster names one by id when it is created, and it
must exist then. The shapes (field names, patterns, enums) are checked by strict mode against
botocore's model before a request gets here; what is left is what the model cannot say.
"""

import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

from .scenario import ValidationException

_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class SecurityConfiguration:
    id: str
    name: str
    arn: str
    client_token: str
    data: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    created_epoch: float = field(default_factory=time.time)
    created_by: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arn": self.arn,
            "createdAt": self.created_epoch,
            "createdBy": self.created_by,
            "securityConfigurationData": self.data,
            "tags": self.tags,
        }


def new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(25))


def validate_data(data: Any) -> dict[str, Any]:
    """What EMR refuses beyond the model: an empty configuration, a TLS configuration without both
    certificates, Lake Formation without its query engine role."""
    if not isinstance(data, dict) or not data:
        raise ValidationException("securityConfigurationData must configure something")
    authorization = data.get("authorizationConfiguration") or {}
    tls = (
        ((authorization.get("encryptionConfiguration") or {}).get("inTransitEncryptionConfiguration") or {}).get(
            "tlsCertificateConfiguration"
        )
    ) or None
    if tls is not None:
        for key in ("certificateProviderType", "publicCertificateSecretArn", "privateCertificateSecretArn"):
            if not tls.get(key):
                raise ValidationException(f"tlsCertificateConfiguration.{key} is required")
    lake = authorization.get("lakeFormationConfiguration")
    if lake is not None and not lake.get("queryEngineRoleArn"):
        raise ValidationException("lakeFormationConfiguration.queryEngineRoleArn is required")
    return data
