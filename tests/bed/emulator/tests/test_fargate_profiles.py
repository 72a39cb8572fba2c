"""EKS Fargate profiles: CREATING then ACTIVE, DELETING then gone, one profile operation at a
time per cluster, as EKS runs them (moto alone makes them ACTIVE and gone at once)."""

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::123456789012:role/AmazonEKSFargatePodExecutionRole"


@pytest.fixture
def eks(client: Any) -> Any:
    eks = client("eks")
    eks.create_cluster(name="eks-1", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={})
    return eks


def create(eks: Any, name: str, token: str | None = None) -> dict[str, Any]:
    extra = {"clientRequestToken": token} if token else {}
    return eks.create_fargate_profile(
        fargateProfileName=name,
        clusterName="eks-1",
        podExecutionRoleArn=ROLE,
        selectors=[{"namespace": name, "labels": {"spark-role": "executor"}}],
        tags={"emr-on-eks.dev/uid": "u-1"},
        **extra,
    )["fargateProfile"]


def status(eks: Any, name: str) -> str | None:
    try:
        return eks.describe_fargate_profile(clusterName="eks-1", fargateProfileName=name)["fargateProfile"]["status"]
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ResourceNotFoundException", err
        return None


def wait_for(eks: Any, name: str, wanted: str | None) -> None:
    deadline = time.monotonic() + 10
    while status(eks, name) != wanted:
        assert time.monotonic() < deadline, f"{name} never became {wanted}"
        time.sleep(0.1)


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def test_a_profile_is_creating_then_active_and_keeps_what_was_asked(eks):
    made = create(eks, "emr-fp")
    assert made["status"] == "CREATING"
    assert made["fargateProfileArn"].startswith("arn:aws:eks:us-east-1:123456789012:fargateprofile/eks-1/emr-fp/")
    wait_for(eks, "emr-fp", "ACTIVE")
    described = eks.describe_fargate_profile(clusterName="eks-1", fargateProfileName="emr-fp")["fargateProfile"]
    assert described["selectors"] == [{"namespace": "emr-fp", "labels": {"spark-role": "executor"}}]
    assert described["tags"] == {"emr-on-eks.dev/uid": "u-1"}
    assert described["podExecutionRoleArn"] == ROLE


def test_a_deleted_profile_is_deleting_then_gone(eks):
    create(eks, "emr-fp")
    wait_for(eks, "emr-fp", "ACTIVE")
    deleted = eks.delete_fargate_profile(clusterName="eks-1", fargateProfileName="emr-fp")["fargateProfile"]
    assert deleted["status"] == "DELETING"
    assert status(eks, "emr-fp") == "DELETING"
    wait_for(eks, "emr-fp", None)
    assert eks.list_fargate_profiles(clusterName="eks-1")["fargateProfileNames"] == []
    with pytest.raises(ClientError) as err:
        eks.delete_fargate_profile(clusterName="eks-1", fargateProfileName="emr-fp")
    assert code(err) == "ResourceNotFoundException"


def test_one_profile_operation_at_a_time_per_cluster(eks, client):
    create(eks, "a")
    with pytest.raises(ClientError) as err:
        create(eks, "b")
    assert code(err) == "ResourceInUseException"
    assert "currently has Fargate profile a in status CREATING" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        eks.delete_fargate_profile(clusterName="eks-1", fargateProfileName="a")
    assert code(err) == "ResourceInUseException", "a CREATING profile cannot be deleted"
    wait_for(eks, "a", "ACTIVE")
    create(eks, "b")
    wait_for(eks, "b", "ACTIVE")
    eks.delete_fargate_profile(clusterName="eks-1", fargateProfileName="a")
    with pytest.raises(ClientError) as err:
        eks.delete_fargate_profile(clusterName="eks-1", fargateProfileName="b")
    assert code(err) == "ResourceInUseException"
    assert "in status DELETING" in err.value.response["Error"]["Message"]
    # Another cluster is not held up.
    eks.create_cluster(name="eks-2", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={})
    eks.create_fargate_profile(
        fargateProfileName="c", clusterName="eks-2", podExecutionRoleArn=ROLE, selectors=[{"namespace": "c"}]
    )
    wait_for(eks, "a", None)
    eks.delete_fargate_profile(clusterName="eks-1", fargateProfileName="b")


def test_a_taken_name_is_in_use_unless_the_token_is_the_same(eks):
    first = create(eks, "emr-fp", token="tok-1")
    again = create(eks, "emr-fp", token="tok-1")
    assert again["fargateProfileArn"] == first["fargateProfileArn"]
    wait_for(eks, "emr-fp", "ACTIVE")
    with pytest.raises(ClientError) as err:
        create(eks, "emr-fp", token="tok-2")
    assert code(err) == "ResourceInUseException"
    assert "already exists" in err.value.response["Error"]["Message"]


def test_profile_calls_are_logged_and_can_fail(eks, emulator):
    emulator.faults(throttleNext=1, services=["eks"], operations=["CreateFargateProfile"])
    with pytest.raises(ClientError) as err:
        create(eks, "emr-fp")
    assert code(err) == "ThrottlingException"
    create(eks, "emr-fp")
    calls = [c for c in emulator.calls("?service=eks&operation=CreateFargateProfile")]
    assert [(c["status"], c["fault"]) for c in calls] == [(429, "throttle"), (200, None)]
    described = emulator.calls("?service=eks&operation=DescribeFargateProfile")
    assert described == []
