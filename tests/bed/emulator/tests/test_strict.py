"""Strict request validation: each kind of rule of botocore's models (required, type, min/max
lengths and values, pattern, enum, nested structures, lists, maps, query-string members), the
quotas, each service's error shape, and the switch. boto3's own client-side checks are off
(`parameter_validation=False`) so the requests reach the emulator as a careless client sends them.
"""

import json
import urllib.error

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from emr_emulator import quotas
from helpers import DRIVER, RELEASE, ROLE_ARN, create_vc

RAW = Config(parameter_validation=False, retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture
def raw(emulator):
    import boto3

    def make(service):
        return boto3.client(
            service,
            endpoint_url=emulator.url,
            region_name="us-east-1",
            aws_access_key_id="strict-test",
            aws_secret_access_key="testing",
            config=RAW,
        )

    return make


def _start(emr, vc, **overrides):
    request = {
        "name": "job",
        "virtualClusterId": vc,
        "clientToken": "token-1",
        "executionRoleArn": ROLE_ARN,
        "releaseLabel": RELEASE,
        "jobDriver": DRIVER,
    }
    request.update(overrides)
    return emr.start_job_run(**request)


def _refused(call, code="ValidationException", status=400):
    with pytest.raises(ClientError) as err:
        call()
    error = err.value.response["Error"]
    assert error["Code"] == code, error
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    return error["Message"]


# --- emr-containers (rest-json): ValidationException, HTTP 400 ------------------------------------


def test_a_missing_required_member_is_named(raw):
    message = _refused(
        lambda: raw("emr-containers").create_virtual_cluster(
            containerProvider={"type": "EKS", "id": "eks-1", "info": {"eksInfo": {"namespace": "ns"}}},
            clientToken="t",
        )
    )
    assert message == (
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"
    )


def test_a_required_member_of_a_nested_structure_is_named_with_its_path(raw, vc):
    message = _refused(lambda: _start(raw("emr-containers"), vc, jobDriver={"sparkSubmitJobDriver": {}}))
    assert "Value null at 'jobDriver.sparkSubmitJobDriver.entryPoint'" in message
    assert "Member must not be null" in message


def test_a_job_run_name_over_64_characters_is_refused(raw, vc, emulator):
    name = "n" * 65
    message = _refused(lambda: _start(raw("emr-containers"), vc, name=name))
    assert message == (
        f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )
    # 64 is fine, and nothing was started for the refused request.
    _start(raw("emr-containers"), vc, name="n" * 64)
    assert [r["status"] for r in emulator.start_requests()] == [400, 200]


def test_a_client_token_over_64_characters_is_refused(raw, vc):
    message = _refused(lambda: _start(raw("emr-containers"), vc, clientToken="t" * 65))
    assert "at 'clientToken' failed to satisfy constraint: Member must have length less than or equal to 64" in message


def test_a_pattern_is_matched_against_the_whole_value(raw, vc):
    emr = raw("emr-containers")
    message = _refused(lambda: _start(emr, vc, name="nightly report"))
    assert "Value 'nightly report' at 'name'" in message
    assert "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+" in message
    message = _refused(lambda: _start(emr, vc, executionRoleArn="arn:aws:iam::123456789012:user/someone"))
    assert "at 'executionRoleArn'" in message and "regular expression pattern" in message


def test_java_dot_does_not_match_a_line_break(raw, vc):
    # `.*\S.*` is a Java pattern: `.` stops at line terminators, so a value spanning lines fails.
    message = _refused(
        lambda: _start(
            raw("emr-containers"),
            vc,
            jobDriver={
                "sparkSubmitJobDriver": {
                    "entryPoint": "s3://b/a.py",
                    "sparkSubmitParameters": "--conf a=1\n--conf b=2",
                }
            },
        )
    )
    # A sensitive member is named without its value, as AWS does.
    assert "Value at 'jobDriver.sparkSubmitJobDriver.sparkSubmitParameters'" in message
    assert "--conf" not in message


def test_a_value_outside_an_enum_is_refused(raw, vc):
    overrides = {"monitoringConfiguration": {"persistentAppUI": "MAYBE"}}
    message = _refused(lambda: _start(raw("emr-containers"), vc, configurationOverrides=overrides))
    assert (
        "Value 'MAYBE' at 'configurationOverrides.monitoringConfiguration.persistentAppUI' failed to satisfy "
        "constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
    ) in message


def test_a_wrong_type_is_refused(raw, vc):
    message = _refused(lambda: _start(raw("emr-containers"), vc, retryPolicyConfiguration={"maxAttempts": "three"}))
    assert "at 'retryPolicyConfiguration.maxAttempts' failed to satisfy constraint: Member must be of type integer" in message


def test_number_ranges_are_enforced(raw, vc):
    def rotation(n):
        return {"monitoringConfiguration": {"containerLogRotationConfiguration": {"rotationSize": "2GB", "maxFilesToKeep": n}}}

    emr = raw("emr-containers")
    low = _refused(lambda: _start(emr, vc, configurationOverrides=rotation(0)))
    assert "Member must have value greater than or equal to 1" in low
    high = _refused(lambda: _start(emr, vc, configurationOverrides=rotation(51)))
    assert "Member must have value less than or equal to 50" in high
    _start(emr, vc, configurationOverrides=rotation(50))


def test_list_items_and_structures_in_lists_are_checked(raw, vc):
    emr = raw("emr-containers")
    driver = {"sparkSubmitJobDriver": {"entryPoint": "s3://b/a.py", "entryPointArguments": ["ok", "a" * 10281]}}
    message = _refused(lambda: _start(emr, vc, jobDriver=driver))
    assert "at 'jobDriver.sparkSubmitJobDriver.entryPointArguments' failed to satisfy constraint" in message
    assert "Member must have length less than or equal to 10280" in message
    overrides = {"applicationConfiguration": [{"classification": "spark-defaults"}, {"properties": {"a": "b"}}]}
    message = _refused(lambda: _start(emr, vc, configurationOverrides=overrides))
    assert "Value null at 'configurationOverrides.applicationConfiguration.2.member.classification'" in message
    # At the limit is fine.
    driver["sparkSubmitJobDriver"]["entryPointArguments"] = ["a" * 10280]
    _start(emr, vc, jobDriver=driver)


def test_spark_submit_parameters_over_the_model_limit_are_refused(raw, vc):
    driver = {"sparkSubmitJobDriver": {"entryPoint": "s3://b/a.py", "sparkSubmitParameters": "x" * 102401}}
    message = _refused(lambda: _start(raw("emr-containers"), vc, jobDriver=driver))
    assert "Member must have length less than or equal to 102400" in message
    driver["sparkSubmitJobDriver"]["sparkSubmitParameters"] = "x" * 102400
    _start(raw("emr-containers"), vc, jobDriver=driver)


def test_tag_count_keys_and_values_follow_emr_limits(raw, vc):
    emr = raw("emr-containers")
    message = _refused(lambda: _start(emr, vc, tags={f"k{i}": "v" for i in range(51)}))
    assert "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50" in message
    message = _refused(lambda: _start(emr, vc, tags={"k" * 129: "v"}))
    assert "Map keys must satisfy constraint: [Member must have length less than or equal to 128]" in message
    message = _refused(lambda: _start(emr, vc, tags={"k": "v" * 257}))
    assert "Map value must satisfy constraint: [Member must have length less than or equal to 256]" in message
    message = _refused(lambda: _start(emr, vc, tags={"k": "   "}))
    assert "Map value must satisfy constraint: [Member must satisfy regular expression pattern: .*\\S.*]" in message
    # Java counts UTF-16 code units: 129 characters outside the BMP are 258 units.
    message = _refused(lambda: _start(emr, vc, tags={"k": "\U0001d11e" * 129}))
    assert "less than or equal to 256" in message
    # 50 tags, a 128-character key, a 256-character value and an empty value are all fine.
    _start(emr, vc, clientToken="ok", tags={**{f"k{i}": "v" for i in range(48)}, "k" * 128: "v" * 256, "empty": ""})


def test_reserved_aws_tag_keys_are_refused(raw, vc):
    message = _refused(lambda: _start(raw("emr-containers"), vc, tags={"aws:owner": "me"}))
    assert "aws:owner" in message and "reserved" in message


def test_query_string_members_are_checked(raw, vc):
    emr = raw("emr-containers")
    message = _refused(lambda: emr.list_job_runs(virtualClusterId=vc, states=["RUNNING", "BOGUS"]))
    assert "at 'states' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set" in message
    message = _refused(lambda: emr.list_job_runs(virtualClusterId=vc, name="n" * 65))
    assert "at 'name'" in message
    assert emr.list_job_runs(virtualClusterId=vc, states=["RUNNING"], name="n" * 64)["jobRuns"] == []


def test_uri_labels_are_checked(raw):
    message = _refused(lambda: raw("emr-containers").describe_virtual_cluster(id="NOT-AN-ID"))
    assert "Value 'NOT-AN-ID' at 'id' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-z]+" in message


def test_several_violations_are_counted_in_one_message(raw, vc):
    message = _refused(lambda: _start(raw("emr-containers"), vc, name="n" * 65, clientToken="t" * 65))
    assert message.startswith("2 validation errors detected: ")
    assert "at 'name'" in message and "at 'clientToken'" in message


# --- IAM and STS (query): XML ValidationError, HTTP 400 --------------------------------------------


TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def test_iam_answers_xml_validation_error_naming_the_member_lower_camel(raw):
    iam = raw("iam")
    message = _refused(lambda: iam.get_role(RoleName="r" * 65), code="ValidationError")
    assert message == (
        f"1 validation error detected: Value '{'r' * 65}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )
    message = _refused(lambda: iam.get_role(RoleName="bad role"), code="ValidationError")
    assert "Member must satisfy regular expression pattern: [\\w+=,.@-]+" in message
    message = _refused(
        lambda: iam.update_assume_role_policy(RoleName="r", PolicyDocument="\u2603"), code="ValidationError"
    )
    assert "at 'policyDocument'" in message


def test_iam_query_lists_of_structures_are_read_and_checked(raw):
    message = _refused(
        lambda: raw("iam").create_role(
            RoleName="tagged", AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": "k"}]
        ),
        code="ValidationError",
    )
    assert "Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null" in message


def test_sts_answers_xml_validation_error(raw):
    message = _refused(
        lambda: raw("sts").assume_role(RoleArn=ROLE_ARN, RoleSessionName="s" * 65), code="ValidationError"
    )
    assert "at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64" in message
    message = _refused(
        lambda: raw("sts").assume_role(RoleArn=ROLE_ARN, RoleSessionName="s", DurationSeconds=60),
        code="ValidationError",
    )
    assert "Member must have length greater than or equal to 2" in message
    assert "at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900" in message


def test_eks_answers_invalid_parameter_exception(raw):
    message = _refused(lambda: raw("eks").list_clusters(maxResults=0), code="InvalidParameterException")
    assert "at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1" in message


# --- quotas ------------------------------------------------------------------------------------


def _policy_of_size(size):
    """A trust policy of exactly `size` characters as IAM counts them, padded with white space."""
    doc = dict(TRUST, Statement=[dict(TRUST["Statement"][0], Sid="")])
    base = quotas.policy_size(json.dumps(doc))
    doc["Statement"][0]["Sid"] = "s" * (size - base)
    text = json.dumps(doc, indent=8)
    assert quotas.policy_size(text) == size
    return text


def test_a_trust_policy_over_2048_characters_is_limit_exceeded_and_white_space_is_not_counted(raw):
    iam = raw("iam")
    iam.create_role(RoleName="quota", AssumeRolePolicyDocument=json.dumps(TRUST))
    at_limit = _policy_of_size(2048)
    assert len(at_limit) > 2048  # the indentation is not counted
    iam.update_assume_role_policy(RoleName="quota", PolicyDocument=at_limit)
    message = _refused(
        lambda: iam.update_assume_role_policy(RoleName="quota", PolicyDocument=_policy_of_size(2049)),
        code="LimitExceeded",
        status=409,
    )
    assert message == "Cannot exceed quota for ACLSizePerRole: 2048"
    _refused(
        lambda: iam.create_role(RoleName="big", AssumeRolePolicyDocument=_policy_of_size(2049)),
        code="LimitExceeded",
        status=409,
    )


def test_the_model_limits_cited_in_quotas_are_what_the_pinned_botocore_says():
    session = botocore.session.get_session()
    for limit in quotas.MODEL_LIMITS:
        shape = session.get_service_model(limit.service).operation_model(limit.operation).input_shape
        for step in limit.member_path:
            if step == "[]":
                shape = shape.member
            elif step == "{key}":
                shape = shape.key
            elif step == "{value}":
                shape = shape.value
            else:
                shape = shape.members[step]
        for key, value in limit.metadata.items():
            assert shape.metadata.get(key) == value, (limit, shape.metadata)


# --- the log and the switch ----------------------------------------------------------------------


def test_refusals_are_logged_as_violations_with_the_answer(raw, vc, emulator):
    _refused(lambda: _start(raw("emr-containers"), vc, name="n" * 65))
    violations = emulator.request("GET", "/_emulator/violations?accessKeyId=strict-test")["violations"]
    assert [(v["operation"], v["status"], v["fault"]) for v in violations] == [("StartJobRun", 400, "invalid")]
    assert violations[0]["error"].startswith("ValidationException: 1 validation error detected")
    assert emulator.request("GET", "/_emulator/violations?accessKeyId=someone-else")["violations"] == []


def test_strict_can_be_switched_off_and_reset_turns_it_back_on(raw, vc, emulator):
    assert emulator.request("GET", "/_emulator/health")["strict"] is True
    emulator.request("POST", "/_emulator/strict", {"enabled": False})
    _start(raw("emr-containers"), vc, name="n" * 65)  # moto takes it
    assert emulator.request("GET", "/_emulator/violations")["violations"] == []
    emulator.reset()
    assert emulator.request("GET", "/_emulator/strict") == {"enabled": True}
    vc2 = create_vc(raw("emr-containers"), "ns-again")
    _refused(lambda: _start(raw("emr-containers"), vc2, name="n" * 65))


def test_a_bad_strict_switch_is_refused(emulator):
    with pytest.raises(urllib.error.HTTPError) as err:
        emulator.request("POST", "/_emulator/strict", {"enabled": "no"})
    assert err.value.code == 400


def test_the_start_up_switch_reads_emulator_strict(monkeypatch):
    from emr_emulator import strict

    for raw, want in [("", True), ("1", True), ("true", True), ("0", False), ("off", False)]:
        monkeypatch.setenv("EMULATOR_STRICT", raw)
        assert strict.enabled_from_env() is want
    monkeypatch.delenv("EMULATOR_STRICT")
    assert strict.enabled_from_env() is True
    monkeypatch.setenv("EMULATOR_STRICT", "maybe")
    with pytest.raises(SystemExit):
        strict.enabled_from_env()
