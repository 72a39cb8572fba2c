"""S3 through the emulator's port (moto), as the operator uses it for pod templates: the call
log names HeadObject and PutObject with their path, and faults and denials answer as S3 does."""

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def s3(client):
    s3 = client("s3")
    s3.create_bucket(Bucket="templates")
    return s3


def test_put_then_head_and_get_the_same_bytes(emulator, s3):
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket="templates", Key="p/abc.yaml")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_object(
        Bucket="templates",
        Key="p/abc.yaml",
        Body=b"apiVersion: v1\nkind: Pod\n",
        ServerSideEncryption="AES256",
        ExpectedBucketOwner="123456789012",
    )
    head = s3.head_object(Bucket="templates", Key="p/abc.yaml")
    assert head["ServerSideEncryption"] == "AES256"
    body = s3.get_object(Bucket="templates", Key="p/abc.yaml")["Body"].read()
    assert body == b"apiVersion: v1\nkind: Pod\n"
    log = [(c["operation"], c["method"], c["path"], c["status"]) for c in emulator.calls("?service=s3")]
    assert log == [
        ("CreateBucket", "PUT", "/templates", 200),
        ("HeadObject", "HEAD", "/templates/p/abc.yaml", 404),
        ("PutObject", "PUT", "/templates/p/abc.yaml", 200),
        ("HeadObject", "HEAD", "/templates/p/abc.yaml", 200),
        ("GetObject", "GET", "/templates/p/abc.yaml", 200),
    ]


def test_throttling_is_slow_down_503_for_s3_only(emulator, client, s3):
    emulator.faults(throttleNext=1, services=["s3"], operations=["PutObject"])
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket="templates", Key="k", Body=b"x")
    assert err.value.response["Error"]["Code"] == "SlowDown"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    s3.put_object(Bucket="templates", Key="k", Body=b"x")
    puts = emulator.calls("?service=s3&operation=PutObject")
    assert [(c["status"], c["fault"]) for c in puts] == [(503, "throttle"), (200, None)]


def test_an_outage_answers_head_with_a_bare_503(emulator, s3):
    emulator.faults(downForSeconds=30, services=["s3"])
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket="templates", Key="k")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket="templates", Key="k", Body=b"x")
    assert err.value.response["Error"]["Code"] == "ServiceUnavailable"
    emulator.request("DELETE", "/_emulator/faults")
    s3.put_object(Bucket="templates", Key="k", Body=b"x")


def test_a_denial_is_s3s_access_denied(emulator, s3):
    emulator.request("POST", "/_emulator/denials", {"service": "s3", "operation": "PutObject"})
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket="templates", Key="k", Body=b"x")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "s3:PutObject" in err.value.response["Error"]["Message"]
    emulator.request("POST", "/_emulator/denials", {"service": "s3", "operation": "HeadObject"})
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket="templates", Key="k")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert [c["fault"] for c in emulator.calls("?service=s3&operation=HeadObject")] == ["denied"]
