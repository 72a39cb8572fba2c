"""Fault injection, the call log and reset, through the control API."""

import json
import time
import urllib.error

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError
from helpers import create_vc


def test_throttling_is_request_throttled_exception_with_429(emulator, emr, vc):
    emulator.faults(throttleNext=1)
    with pytest.raises(ClientError) as err:
        emr.describe_virtual_cluster(id=vc)
    assert err.value.response["Error"]["Code"] == "RequestThrottledException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "RequestThrottledException"
    # Only the next call was throttled.
    emr.describe_virtual_cluster(id=vc)
    log = emulator.calls("?operation=DescribeVirtualCluster")
    assert [(c["status"], c["fault"], c["virtualClusterId"]) for c in log] == [(429, "throttle", vc), (200, None, vc)]


def test_throttle_rate_applies_to_the_chosen_services_only(emulator, client, emr, vc):
    emulator.faults(throttleRate=1.0, services=["iam"])
    emr.describe_virtual_cluster(id=vc)
    with pytest.raises(ClientError) as err:
        client("iam").list_roles()
    assert err.value.response["Error"]["Code"] == "Throttling"


def test_throttle_rate_is_a_fraction(emulator, emr, vc):
    emulator.faults(throttleRate=0.5, seed=7)
    outcomes = []
    for _ in range(40):
        try:
            emr.describe_virtual_cluster(id=vc)
            outcomes.append(True)
        except ClientError:
            outcomes.append(False)
    assert 5 < outcomes.count(False) < 35


def test_latency_is_added_to_each_call(emulator, emr, vc):
    emulator.faults(latencyMs=300)
    began = time.monotonic()
    emr.describe_virtual_cluster(id=vc)
    assert time.monotonic() - began >= 0.3


def test_down_fails_every_call_then_recovers(emulator, emr, vc):
    emulator.faults(downForSeconds=1.5)
    with pytest.raises(ClientError) as err:
        emr.describe_virtual_cluster(id=vc)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    time.sleep(1.6)
    assert emr.describe_virtual_cluster(id=vc)["virtualCluster"]["id"] == vc


def test_down_can_drop_connections(emulator, emr, vc):
    emulator.faults(downForSeconds=1.5, downMode="close")
    with pytest.raises(ConnectionClosedError):
        emr.describe_virtual_cluster(id=vc)
    time.sleep(1.6)
    emr.describe_virtual_cluster(id=vc)


def test_bad_fault_config_is_rejected(emulator):
    with pytest.raises(urllib.error.HTTPError) as err:
        emulator.faults(throttleRate=2)
    assert err.value.code == 400
    with pytest.raises(urllib.error.HTTPError):
        emulator.faults(throttle=0.5)


def test_reset_clears_moto_state_faults_and_log(emulator, emr):
    create_vc(emr, "ns-reset")
    emulator.faults(latencyMs=1)
    assert emulator.calls()
    emulator.reset()
    assert emulator.request("GET", "/_emulator/faults")["latencyMs"] == 0
    assert emulator.calls() == []
    assert emr.list_virtual_clusters()["virtualClusters"] == []
    # The namespace is free again.
    create_vc(emr, "ns-reset")


def test_health(emulator):
    health = emulator.request("GET", "/_emulator/health")
    assert health["status"] == "ok"
    assert health["moto"] == "5.2.5"


def test_iam_eks_and_sts_work_through_the_same_port(emulator, client):
    assert client("sts").get_caller_identity()["Account"] == "123456789012"
    iam = client("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    iam.create_role(RoleName="emr-job-role", AssumeRolePolicyDocument=trust)
    iam.update_assume_role_policy(RoleName="emr-job-role", PolicyDocument=trust)
    assert iam.get_role(RoleName="emr-job-role")["Role"]["RoleName"] == "emr-job-role"
    eks = client("eks")
    eks.create_cluster(name="eks-1", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={})
    issuer = eks.describe_cluster(name="eks-1")["cluster"]["identity"]["oidc"]["issuer"]
    assert issuer.startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")
    ops = [(c["service"], c["operation"]) for c in emulator.calls()]
    assert ops == [
        ("sts", "GetCallerIdentity"),
        ("iam", "CreateRole"),
        ("iam", "UpdateAssumeRolePolicy"),
        ("iam", "GetRole"),
        ("eks", "CreateCluster"),
        ("eks", "DescribeCluster"),
    ]


def test_the_call_log_names_the_access_key_of_each_caller(emulator, emr, vc):
    # Two callers (as two operator replicas would be) with their own keys, told apart in the log.
    import boto3
    from botocore.config import Config

    other = boto3.client(
        "emr-containers",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="replica-b",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    emr.describe_virtual_cluster(id=vc)
    other.describe_virtual_cluster(id=vc)
    emulator.faults(throttleNext=1)
    with pytest.raises(ClientError):
        other.describe_virtual_cluster(id=vc)
    log = emulator.calls("?operation=DescribeVirtualCluster")
    assert [(c["accessKeyId"], c["fault"]) for c in log] == [
        ("testing", None),
        ("replica-b", None),
        ("replica-b", "throttle"),
    ]
    assert [c["seq"] for c in emulator.calls("?accessKeyId=replica-b")] == [c["seq"] for c in log[1:]]
