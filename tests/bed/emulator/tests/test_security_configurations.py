"""Security configurations behave like EMR's: created (idempotently by client token), described,
listed, deleted; held to the model's shapes by strict mode; and named by CreateVirtualCluster."""

import pytest
from botocore.exceptions import ClientError

PUBLIC = "arn:aws:secretsmanager:us-east-1:123456789012:secret:emr-tls-public"
PRIVATE = "arn:aws:secretsmanager:us-east-1:123456789012:secret:emr-tls-private"
TLS = {
    "authorizationConfiguration": {
        "encryptionConfiguration": {
            "inTransitEncryptionConfiguration": {
                "tlsCertificateConfiguration": {
                    "certificateProviderType": "PEM",
                    "publicCertificateSecretArn": PUBLIC,
                    "privateCertificateSecretArn": PRIVATE,
                }
            }
        }
    }
}


def create(emr, name="tls", token="sc-1", data=None, **extra):
    return emr.create_security_configuration(
        name=name, clientToken=token, securityConfigurationData=data or TLS, **extra
    )


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_create_describe_list_delete(emr):
    created = create(emr, tags={"team": "a"})
    assert created["arn"].endswith(f":/securityconfigurations/{created['id']}")
    assert create(emr)["id"] == created["id"], "the same client token is the same configuration"
    described = emr.describe_security_configuration(id=created["id"])["securityConfiguration"]
    assert described["name"] == "tls"
    assert described["tags"] == {"team": "a"}
    tls = described["securityConfigurationData"]["authorizationConfiguration"]["encryptionConfiguration"][
        "inTransitEncryptionConfiguration"
    ]["tlsCertificateConfiguration"]
    assert tls["privateCertificateSecretArn"] == PRIVATE

    other = create(emr, name="second", token="sc-2")
    listed = [c["id"] for c in emr.list_security_configurations()["securityConfigurations"]]
    assert listed == [created["id"], other["id"]]

    emr.delete_security_configuration(id=created["id"])
    with pytest.raises(ClientError) as err:
        emr.describe_security_configuration(id=created["id"])
    assert code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        emr.delete_security_configuration(id=created["id"])
    assert code(err) == "ResourceNotFoundException"


def test_what_emr_refuses_is_refused(emr):
    bad_enum = {"authorizationConfiguration": {"encryptionConfiguration": {"inTransitEncryptionConfiguration": {
        "tlsCertificateConfiguration": {"certificateProviderType": "DER", "publicCertificateSecretArn": PUBLIC,
                                        "privateCertificateSecretArn": PRIVATE}}}}}
    with pytest.raises(ClientError) as err:
        create(emr, token="t1", data=bad_enum)
    assert code(err) == "ValidationException"
    no_private = {"authorizationConfiguration": {"encryptionConfiguration": {"inTransitEncryptionConfiguration": {
        "tlsCertificateConfiguration": {"certificateProviderType": "PEM", "publicCertificateSecretArn": PUBLIC}}}}}
    with pytest.raises(ClientError) as err:
        create(emr, token="t2", data=no_private)
    assert code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        create(emr, name="bad name!", token="t3")
    assert code(err) == "ValidationException"
    assert emr.list_security_configurations()["securityConfigurations"] == []


def test_a_virtual_cluster_names_an_existing_one(emr):
    config = create(emr)["id"]
    provider = {"type": "EKS", "id": "eks-1", "info": {"eksInfo": {"namespace": "secure"}}}
    vc = emr.create_virtual_cluster(name="secure", containerProvider=provider, securityConfigurationId=config)
    described = emr.describe_virtual_cluster(id=vc["id"])["virtualCluster"]
    assert described["securityConfigurationId"] == config
    other = {"type": "EKS", "id": "eks-1", "info": {"eksInfo": {"namespace": "other"}}}
    with pytest.raises(ClientError) as err:
        emr.create_virtual_cluster(name="other", containerProvider=other, securityConfigurationId="doesnotexist")
    assert code(err) == "ResourceNotFoundException"


def test_calls_are_logged_and_faults_apply(emulator, emr):
    create(emr)
    logged = emulator.calls("?operation=CreateSecurityConfiguration")
    assert len(logged) == 1
    emulator.faults(throttleNext=1)
    with pytest.raises(ClientError) as err:
        emr.list_security_configurations()
    assert code(err) == "RequestThrottledException"
    assert emr.list_security_configurations()["securityConfigurations"]
