"""Job templates behave like EMR's: created, described, listed, deleted, and a run started from
one gets the template's values with `${param}` substituted."""

import pytest
from botocore.exceptions import ClientError
from helpers import INSTANT, ROLE_ARN, describe

OTHER_ROLE = "arn:aws:iam::123456789012:role/other-role"
DRIVER = {"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/${script}.py", "entryPointArguments": ["${day}"]}}


def create_template(emr, name="tmpl", token="tok-1", **data):
    template_data = {
        "executionRoleArn": ROLE_ARN,
        "releaseLabel": "emr-7.2.0-latest",
        "jobDriver": DRIVER,
        "parameterConfiguration": {
            "script": {"type": "STRING", "defaultValue": "job"},
            "day": {"type": "STRING"},
        },
        "jobTags": {**INSTANT},
        **data,
    }
    return emr.create_job_template(name=name, clientToken=token, jobTemplateData=template_data)


def start_from(emr, vc, template_id, params=None, role=OTHER_ROLE, token="run-1"):
    kwargs = {"jobTemplateParameters": params} if params is not None else {}
    return emr.start_job_run(
        name="from-template",
        virtualClusterId=vc,
        clientToken=token,
        executionRoleArn=role,
        jobTemplateId=template_id,
        tags={"team": "a"},
        **kwargs,
    )["id"]


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_create_describe_list_delete(emr):
    created = create_template(emr)
    assert created["arn"].endswith(f":/jobtemplates/{created['id']}")
    again = create_template(emr)
    assert again["id"] == created["id"], "the same client token is the same template"

    template = emr.describe_job_template(id=created["id"])["jobTemplate"]
    assert template["name"] == "tmpl"
    assert template["jobTemplateData"]["executionRoleArn"] == ROLE_ARN
    assert template["jobTemplateData"]["parameterConfiguration"]["script"]["defaultValue"] == "job"

    other = create_template(emr, name="second", token="tok-2")
    listed = [t["id"] for t in emr.list_job_templates()["templates"]]
    assert listed == [created["id"], other["id"]]

    emr.delete_job_template(id=created["id"])
    with pytest.raises(ClientError) as err:
        emr.describe_job_template(id=created["id"])
    assert error_code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        emr.delete_job_template(id=created["id"])
    assert error_code(err) == "ResourceNotFoundException"
    assert [t["id"] for t in emr.list_job_templates()["templates"]] == [other["id"]]


def test_a_template_must_declare_what_it_uses(emr):
    with pytest.raises(ClientError) as err:
        create_template(emr, executionRoleArn="${role}")
    assert error_code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        create_template(emr, token="t-2", releaseLabel="${x}")
    assert error_code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        create_template(emr, token="t-3", parameterConfiguration={"script": {"type": "DATE"}, "day": {}})
    assert error_code(err) == "ValidationException"


def test_a_run_from_a_template_takes_its_values_with_parameters_substituted(emulator, emr, vc):
    template = create_template(emr)
    job = start_from(emr, vc, template["id"], params={"day": "2024-01-01"})
    run = describe(emr, vc, job)
    # The template's role is enforced: the request's executionRoleArn does not count.
    assert run["executionRoleArn"] == ROLE_ARN
    assert run["releaseLabel"] == "emr-7.2.0-latest"
    driver = run["jobDriver"]["sparkSubmitJobDriver"]
    assert driver["entryPoint"] == "s3://bucket/job.py"
    assert driver["entryPointArguments"] == ["2024-01-01"]
    assert run["tags"]["team"] == "a"
    assert run["tags"]["emulator/run-seconds"] == "0"
    # The call log keeps the request as sent.
    body = emulator.start_requests(f"?virtualClusterId={vc}")[-1]["body"]
    assert body["jobTemplateId"] == template["id"]
    assert body["executionRoleArn"] == OTHER_ROLE


def test_a_role_parameter_is_substituted(emr, vc):
    template = create_template(
        emr,
        executionRoleArn="${role}",
        parameterConfiguration={"role": {"type": "STRING"}, "script": {"defaultValue": "x"}, "day": {}},
    )
    job = start_from(emr, vc, template["id"], params={"role": OTHER_ROLE, "day": "d"})
    assert describe(emr, vc, job)["executionRoleArn"] == OTHER_ROLE


def test_parameters_are_checked(emr, vc):
    template = create_template(
        emr,
        parameterConfiguration={"script": {"type": "NUMBER"}, "day": {"type": "STRING", "defaultValue": "d"}},
    )
    cases = [
        ({"day": "x"}, "required parameter without a value"),
        ({"script": "abc"}, "NUMBER parameter that is not a number"),
        ({"script": "1", "extra": "x"}, "undeclared parameter"),
    ]
    for params, why in cases:
        with pytest.raises(ClientError) as err:
            start_from(emr, vc, template["id"], params=params, token=f"t-{why}")
        assert error_code(err) == "ValidationException", why
    job = start_from(emr, vc, template["id"], params={"script": "7"}, token="t-ok")
    assert describe(emr, vc, job)["jobDriver"]["sparkSubmitJobDriver"]["entryPoint"] == "s3://bucket/7.py"


def test_an_unknown_template_is_not_found(emr, vc):
    with pytest.raises(ClientError) as err:
        start_from(emr, vc, "nosuchtemplate0000000000", params={})
    assert error_code(err) == "ResourceNotFoundException"
