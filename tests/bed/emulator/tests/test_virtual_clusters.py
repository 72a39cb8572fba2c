"""Virtual clusters behave like EMR's: idempotent create, namespaces freed on delete,
ResourceNotFoundException for unknown ids."""

import time

import pytest
from botocore.exceptions import ClientError
from helpers import create_vc, start


def test_describe_unknown_virtual_cluster_is_resource_not_found(emr):
    with pytest.raises(ClientError) as err:
        emr.describe_virtual_cluster(id="doesnotexist0000000000000")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_create_with_a_used_client_token_returns_the_original(emr):
    first = create_vc(emr, "ns-a", token="tok-a")
    assert create_vc(emr, "ns-a", token="tok-a") == first
    assert len(emr.list_virtual_clusters()["virtualClusters"]) == 1


def test_namespace_is_taken_until_the_virtual_cluster_is_terminated(emr):
    first = create_vc(emr, "ns-b")
    with pytest.raises(ClientError) as err:
        create_vc(emr, "ns-b")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    # The same namespace on another EKS cluster is a different namespace.
    create_vc(emr, "ns-b", cluster="eks-2")

    emr.delete_virtual_cluster(id=first)
    assert emr.describe_virtual_cluster(id=first)["virtualCluster"]["state"] == "TERMINATING"
    deadline = time.monotonic() + 5
    while emr.describe_virtual_cluster(id=first)["virtualCluster"]["state"] != "TERMINATED":
        assert time.monotonic() < deadline, "virtual cluster never reached TERMINATED"
        time.sleep(0.05)
    second = create_vc(emr, "ns-b")
    assert second != first
    assert emr.describe_virtual_cluster(id=second)["virtualCluster"]["state"] == "RUNNING"


def test_no_job_runs_on_a_deleted_virtual_cluster(emr):
    vc = create_vc(emr, "ns-c")
    emr.delete_virtual_cluster(id=vc)
    with pytest.raises(ClientError) as err:
        start(emr, vc)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_created_at_is_a_real_time(emr):
    vc = create_vc(emr, "ns-d")
    created = emr.describe_virtual_cluster(id=vc)["virtualCluster"]["createdAt"]
    assert (created.hour, created.minute, created.second, created.microsecond) != (0, 0, 0, 0)
