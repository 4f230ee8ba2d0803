"""The handler cache (moto_speed._install_handler_cache) answers as moto does: the same
scenario over several services, through real boto3 clients, once with the bridge and once
with moto's own stubber (`moto_as_shipped()`), each on fresh moto state; every answer and
every error a caller can see must be equal (request ids and times left out)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.moto_speed import install_speedups, moto_as_shipped

pytestmark = pytest.mark.integration
REGION = "us-east-1"
VOLATILE = {"ResponseMetadata", "MessageId", "ReceiptHandle", "MD5OfMessageBody", "LastModified"}


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    install_speedups()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "read"):
        return value.read()
    if hasattr(value, "isoformat"):
        return "<time>"
    return value


def _scenario() -> list[Any]:
    out: list[Any] = []

    def call(fn: Any, **kwargs: Any) -> None:
        try:
            out.append(("ok", fn.__name__, _plain(fn(**kwargs))))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            out.append(("error", fn.__name__, error.get("Code"), error.get("Message")))

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        key = [{"AttributeName": "pk", "KeyType": "HASH"}]
        call(
            ddb.create_table,
            TableName="t",
            KeySchema=key,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(3):
            call(ddb.put_item, TableName="t", Item={"pk": {"S": f"k{n}"}, "n": {"N": str(n)}})
        call(
            ddb.put_item,
            TableName="t",
            Item={"pk": {"S": "k1"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
        call(ddb.get_item, TableName="t", Key={"pk": {"S": "k2"}})
        call(ddb.get_item, TableName="missing", Key={"pk": {"S": "k2"}})
        call(ddb.scan, TableName="t")
        s3 = boto3.client("s3", region_name=REGION)
        call(s3.create_bucket, Bucket="b")
        call(s3.put_object, Bucket="b", Key="a/one.txt", Body=b"one")
        call(s3.get_object, Bucket="b", Key="a/one.txt")
        call(s3.get_object, Bucket="b", Key="a/none.txt")
        call(s3.list_objects_v2, Bucket="b", Prefix="a/")
        call(s3.list_objects_v2, Bucket="nobucket")
        sqs = boto3.client("sqs", region_name=REGION)
        call(sqs.create_queue, QueueName="q")
        url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
        call(sqs.send_message, QueueUrl=url, MessageBody="hello")
        call(sqs.receive_message, QueueUrl=url)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = {"StartAt": "p", "States": {"p": {"Type": "Pass", "End": True}}}
        call(
            sfn.create_state_machine,
            name="m",
            definition=json.dumps(machine),
            roleArn="arn:aws:iam::123456789012:role/r",
        )
        call(sfn.list_state_machines)
        call(
            sfn.describe_execution,
            executionArn="arn:aws:states:us-east-1:123456789012:execution:m:x",
        )
        ses = boto3.client("sesv2", region_name=REGION)
        call(ses.create_email_identity, EmailIdentity="example.com")
        call(ses.list_email_identities)
        sns = boto3.client("sns", region_name=REGION)
        call(sns.create_topic, Name="topic")
        call(sns.list_topics)
    return out


def test_every_service_answers_as_moto_does() -> None:
    bridged = _scenario()
    assert _scenario() == bridged  # handlers found under one moto state serve the next
    with moto_as_shipped():
        shipped = _scenario()
    assert {entry[0] for entry in bridged} == {"ok", "error"}  # answers and errors both
    assert len(bridged) == len(shipped)
    for ours, theirs in zip(bridged, shipped, strict=True):
        assert ours == theirs
