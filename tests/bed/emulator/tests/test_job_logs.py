"""Job runs write driver and executor logs where EMR on EKS does: CloudWatch streams and gzipped
S3 objects under <prefix>/<vcId>/jobs/<jobRunId>/containers/<sparkAppId>/<pod>/."""

import gzip

from helpers import INSTANT, describe, start, wait_for

CLOUDWATCH = {"logGroupName": "/emr/team-a", "logStreamNamePrefix": "pi"}
S3 = {"logUri": "s3://team-a-logs/spark/"}


def _monitoring(**config):
    return {"monitoringConfiguration": config}


def test_completed_run_writes_driver_and_executor_logs_to_cloudwatch_and_s3(emr, vc, client):
    job = start(emr, vc, tags=INSTANT, configurationOverrides=_monitoring(
        cloudWatchMonitoringConfiguration=CLOUDWATCH, s3MonitoringConfiguration=S3))
    wait_for(emr, vc, job, {"COMPLETED"})

    logs = client("logs")
    prefix = f"pi/{vc}/jobs/{job}/containers/"
    streams = [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName="/emr/team-a", logStreamNamePrefix=prefix)["logStreams"]]
    driver = [s for s in streams if s.endswith(f"/spark-{job}-driver/stdout")]
    assert len(driver) == 1, streams
    assert any("-exec-1/stderr" in s for s in streams), streams
    events = logs.get_log_events(logGroupName="/emr/team-a", logStreamName=driver[0], startFromHead=True)
    assert [e["message"] for e in events["events"]] == ["Pi is roughly 3.14159 (emulated, attempt 1)"]

    s3 = client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(
        Bucket="team-a-logs", Prefix=f"spark/{vc}/jobs/{job}/containers/")["Contents"]]
    stderr_key = next(k for k in keys if k.endswith(f"/spark-{job}-driver/stderr.gz"))
    text = gzip.decompress(s3.get_object(Bucket="team-a-logs", Key=stderr_key)["Body"].read()).decode()
    assert "Running Spark version" in text and "Successfully stopped SparkContext" in text


def test_failed_run_logs_its_error_and_a_run_without_monitoring_writes_nothing(emr, vc, client):
    failed = start(emr, vc, name="bad", tags={**INSTANT, "emulator/outcome": "FAILED"},
                   configurationOverrides=_monitoring(s3MonitoringConfiguration=S3))
    quiet = start(emr, vc, name="quiet", tags=INSTANT)
    wait_for(emr, vc, failed, {"FAILED"})
    wait_for(emr, vc, quiet, {"COMPLETED"})

    s3 = client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="team-a-logs")["Contents"]]
    assert all(f"/jobs/{failed}/" in k for k in keys), keys
    stderr_key = next(k for k in keys if k.endswith("-driver/stderr.gz"))
    text = gzip.decompress(s3.get_object(Bucket="team-a-logs", Key=stderr_key)["Body"].read()).decode()
    assert "Error initializing SparkContext" in text
    assert client("logs").describe_log_groups()["logGroups"] == []


def test_a_running_job_has_its_first_driver_lines_and_the_rest_when_it_ends(emr, vc, client):
    tags = {"emulator/pending-seconds": "0", "emulator/submitted-seconds": "0", "emulator/run-seconds": "2"}
    job = start(emr, vc, tags=tags, configurationOverrides=_monitoring(cloudWatchMonitoringConfiguration=CLOUDWATCH))
    assert describe(emr, vc, job)["state"] == "RUNNING"
    logs = client("logs")
    stream = f"pi/{vc}/jobs/{job}/containers/spark-{job.ljust(32, '0')[:32]}/spark-{job}-driver/stderr"

    def messages():
        return [e["message"] for e in logs.get_log_events(
            logGroupName="/emr/team-a", logStreamName=stream, startFromHead=True)["events"]]

    running = messages()
    assert len(running) == 2 and "Running Spark version" in running[0]
    wait_for(emr, vc, job, {"COMPLETED"})
    assert messages()[:2] == running and len(messages()) == 4


def test_s3_operations_sharing_a_path_are_told_apart_by_their_query(emulator, client):
    s3 = client("s3")
    s3.create_bucket(Bucket="routing")
    s3.list_objects_v2(Bucket="routing")
    s3.list_objects(Bucket="routing")
    operations = [c["operation"] for c in emulator.calls("?service=s3")]
    assert operations == ["CreateBucket", "ListObjectsV2", "ListObjects"]
