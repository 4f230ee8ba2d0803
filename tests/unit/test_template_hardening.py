"""What the template does to survive AWS and keep data: retained tables and bucket, TLS only,
log retention, a customer-managed key End User Messaging may use, SMS-only publishing, and
alarms for dead letters, every function's errors and throttles, and failed program runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localcloud.template import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == kind}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_tables_and_the_bucket_outlive_the_stack(template: dict[str, Any]) -> None:
    stateful = {
        **_of_type(template, "AWS::DynamoDB::Table"),
        **_of_type(template, "AWS::S3::Bucket"),
    }
    assert {"ContactsTable", "ActivitiesTable", "StateTable", "ContentBucket"} <= set(stateful)
    for name, resource in stateful.items():
        assert resource.get("DeletionPolicy") == "Retain", name
        assert resource.get("UpdateReplacePolicy") == "Retain", name
    for name, table in _of_type(template, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"]["SSEEnabled"] is True, name


def test_the_bucket_is_private_encrypted_versioned_and_refuses_plain_http(
    template: dict[str, Any],
) -> None:
    bucket = template["Resources"]["ContentBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    [policy] = [
        p["Properties"]["PolicyDocument"]
        for p in _of_type(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": "ContentBucket"}
    ]
    [deny] = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::GetAtt": ["ContentBucket", "Arn"]} in deny["Resource"]
    assert {"Fn::Sub": "${ContentBucket.Arn}/*"} in deny["Resource"]


def test_every_log_group_has_a_retention_and_every_function_logs_to_one(
    template: dict[str, Any],
) -> None:
    groups = _of_type(template, "AWS::Logs::LogGroup")
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    logging = template["Globals"]["Function"]["LoggingConfig"]
    for name, props in _of_type(template, "AWS::Serverless::Function").items():
        group = props["Properties"].get("LoggingConfig", logging)["LogGroup"]
        assert group["Ref"] in groups, name
    days = template["Parameters"]["LogRetentionDays"]
    assert days["Default"] in days["AllowedValues"]


def test_the_sms_reply_topic_uses_a_key_end_user_messaging_may_use(
    template: dict[str, Any],
) -> None:
    topic = template["Resources"]["SmsInboundTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "TopicKey"}  # not alias/aws/sns
    key = template["Resources"]["TopicKey"]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    [sms] = [s for s in statements if s["Principal"] == {"Service": "sms-voice.amazonaws.com"}]
    assert sorted(sms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert sms["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "sms-voice" in sms["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    # every topic is encrypted with it, and what publishes to them may use it
    services = {service for s in statements for service in _list(s["Principal"].get("Service", []))}
    assert {"ses.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com"} <= services
    for name, resource in _of_type(template, "AWS::SNS::Topic").items():
        assert resource["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}, name


def test_sns_publish_reaches_phone_numbers_only(template: dict[str, Any]) -> None:
    for name, function in _of_type(template, "AWS::Serverless::Function").items():
        statements = [
            s for p in function["Properties"].get("Policies", []) for s in p.get("Statement", [])
        ]
        publish = [s for s in statements if "sns:Publish" in _list(s["Action"])]
        allowed = [s for s in publish if s["Effect"] == "Allow"]
        if not allowed:
            continue
        # "*" is the only resource an SMS to a number has; the Deny removes every SNS ARN
        denied = [s for s in publish if s["Effect"] == "Deny"]
        assert [s["Resource"] for s in allowed] == ["*"], name
        assert [s["Resource"] for s in denied] == [
            {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}
        ], name


def test_alarms_reach_the_alarm_topic_for_dead_letters_and_every_function(
    template: dict[str, Any],
) -> None:
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    dead = alarms["DeadLettersAlarm"]["Properties"]
    assert (dead["Namespace"], dead["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert dead["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
    ]
    assert dead["Threshold"] == 1
    watched: dict[str, set[str]] = {}
    for alarm in alarms.values():
        for metric in alarm["Properties"].get("Metrics", []):
            stat = metric.get("MetricStat", {}).get("Metric", {})
            if stat.get("Namespace") == "AWS/Lambda":
                [dimension] = stat["Dimensions"]
                watched.setdefault(dimension["Value"]["Ref"], set()).add(stat["MetricName"])
    functions = _of_type(template, "AWS::Serverless::Function")
    assert watched == {name: {"Errors", "Throttles"} for name in functions}
    # the optional email subscription exists only when an address is given
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_failed_or_timed_out_program_runs_are_announced(template: dict[str, Any]) -> None:
    rule = template["Resources"]["ProgramRunFailedRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    # ABORTED is how a reached goal or an archived program ends a run: not an alarm
    assert pattern["detail"]["status"] == ["FAILED", "TIMED_OUT"]
    [prefix] = pattern["detail"]["stateMachineArn"]
    assert prefix["prefix"]["Fn::Sub"].endswith(":stateMachine:${AWS::StackName}-program-")
    # the same prefix the deploy function names program machines with
    deploy_env = template["Resources"]["DeployFunction"]["Properties"]["Environment"]
    assert deploy_env["Variables"]["PROGRAM_ARN_PREFIX"] == prefix["prefix"]
    [target] = rule["Targets"]
    assert target["Arn"] == {"Ref": "AlarmTopic"}
    policy = template["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]
    [events] = [
        s for s in policy["Statement"] if s["Principal"] == {"Service": "events.amazonaws.com"}
    ]
    assert events["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["ProgramRunFailedRule", "Arn"]
    }
