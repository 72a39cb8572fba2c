"""Access-denied rules, per operation and per IAM role, through the control API."""

import json
import urllib.error

import pytest
from botocore.exceptions import ClientError

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


def _roles(iam, *names):
    for name in names:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)


def test_a_denied_operation_on_one_role_is_access_denied_and_the_role_is_unchanged(emulator, client):
    iam = client("iam")
    _roles(iam, "denied-role", "other-role")
    emulator.request(
        "POST", "/_emulator/denials", {"service": "iam", "operation": "UpdateAssumeRolePolicy", "roleName": "denied-role"}
    )
    with pytest.raises(ClientError) as err:
        iam.update_assume_role_policy(RoleName="denied-role", PolicyDocument=TRUST.replace("ec2", "lambda"))
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "iam:UpdateAssumeRolePolicy" in err.value.response["Error"]["Message"]
    assert "denied-role" in err.value.response["Error"]["Message"]
    # Nothing changed on the denied role; the other role and other operations still work.
    doc = iam.get_role(RoleName="denied-role")["Role"]["AssumeRolePolicyDocument"]
    assert "ec2.amazonaws.com" in json.dumps(doc)
    iam.update_assume_role_policy(RoleName="other-role", PolicyDocument=TRUST.replace("ec2", "lambda"))
    assert "lambda" in json.dumps(iam.get_role(RoleName="other-role")["Role"]["AssumeRolePolicyDocument"])
    log = emulator.calls("?operation=UpdateAssumeRolePolicy")
    assert [(c["status"], c["fault"]) for c in log] == [(403, "denied"), (200, None)]


def test_a_denial_without_a_role_covers_every_call_and_json_services_answer_in_json(emulator, emr, vc):
    emulator.request("POST", "/_emulator/denials", {"service": "emr-containers", "operation": "DeleteVirtualCluster"})
    with pytest.raises(ClientError) as err:
        emr.delete_virtual_cluster(id=vc)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert emr.describe_virtual_cluster(id=vc)["virtualCluster"]["state"] == "RUNNING"


def test_denials_are_removed_one_by_one_or_all_and_by_reset(emulator, client):
    iam = client("iam")
    _roles(iam, "r1")
    rule = {"service": "iam", "operation": "GetRole", "roleName": "r1"}
    other = {"service": "iam", "operation": "DeleteRole", "roleName": "r1"}
    emulator.request("POST", "/_emulator/denials", rule)
    emulator.request("POST", "/_emulator/denials", other)
    assert len(emulator.request("GET", "/_emulator/denials")["denials"]) == 2
    with pytest.raises(ClientError):
        iam.get_role(RoleName="r1")
    emulator.request("DELETE", "/_emulator/denials", rule)
    iam.get_role(RoleName="r1")
    assert emulator.request("GET", "/_emulator/denials")["denials"] == [other]
    emulator.request("DELETE", "/_emulator/denials")
    assert emulator.request("GET", "/_emulator/denials")["denials"] == []
    emulator.request("POST", "/_emulator/denials", rule)
    emulator.reset()
    assert emulator.request("GET", "/_emulator/denials")["denials"] == []
    _roles(iam, "r1")
    iam.get_role(RoleName="r1")


def test_a_bad_denial_is_refused_naming_the_problem(emulator):
    with pytest.raises(urllib.error.HTTPError) as err:
        emulator.request("POST", "/_emulator/denials", {"service": "iam", "operation": "GetRole", "role": "x"})
    assert err.value.code == 400
    assert "unknown field(s): role" in err.value.read().decode()
