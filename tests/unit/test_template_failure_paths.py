"""Every asynchronous path in template.yaml has somewhere for its failures to go (contract C1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.template import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DLQ_ARN = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: res["Properties"]
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }


def _statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in props.get("Policies", []) for s in policy.get("Statement", [])]


def _may_send_to_dlq(statements: list[dict[str, Any]]) -> bool:
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        allowed = statement["Effect"] == "Allow" and "sqs:SendMessage" in actions
        if allowed and statement["Resource"] == DLQ_ARN:
            return True
    return False


def test_the_dead_letter_queue_is_encrypted_and_keeps_messages_14_days(
    template: dict[str, Any],
) -> None:
    queue = template["Resources"]["DeadLetterQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_a_poison_stream_record_is_bisected_retried_3_times_then_dead_lettered(
    template: dict[str, Any],
) -> None:
    streams = [
        (name, event["Properties"])
        for name, props in _functions(template).items()
        for event in props.get("Events", {}).values()
        if event["Type"] in ("DynamoDB", "Kinesis")
    ]
    assert streams, "the react function consumes the activities stream"
    for name, stream in streams:
        assert stream["BisectBatchOnFunctionError"] is True, name
        assert stream["MaximumRetryAttempts"] == 3, name
        if (
            name == "ReactFunction"
        ):  # reports the records that failed (the lake's batch is one object)
            assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert stream["DestinationConfig"]["OnFailure"]["Destination"] == DLQ_ARN, name
        assert _may_send_to_dlq(_statements(_functions(template)[name])), name


def test_every_s3_or_sns_triggered_function_sends_failed_invocations_to_the_queue(
    template: dict[str, Any],
) -> None:
    triggered = {
        name: props
        for name, props in _functions(template).items()
        if any(e["Type"] in ("S3", "SNS") for e in props.get("Events", {}).values())
    }
    assert {"DeployFunction", "EngagementFunction", "SmsInboundFunction"} <= set(triggered)
    for name, props in triggered.items():
        config = props.get("EventInvokeConfig")
        assert config, f"{name} has no EventInvokeConfig"
        assert config["MaximumRetryAttempts"] == 2, name
        assert config["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": DLQ_ARN}
        assert _may_send_to_dlq(_statements(props)), f"{name} may not send to the queue"


def test_function_schedules_retry_then_dead_letter(template: dict[str, Any]) -> None:
    schedules = [
        (name, event["Properties"])
        for name, props in _functions(template).items()
        for event in props.get("Events", {}).values()
        if event["Type"] in ("Schedule", "ScheduleV2", "EventBridgeRule", "CloudWatchEvent")
    ]
    assert schedules
    for name, schedule in schedules:
        assert schedule["DeadLetterConfig"] == {"Arn": DLQ_ARN}, name
        assert schedule["RetryPolicy"]["MaximumRetryAttempts"] >= 1, name
    # EventBridge (not the function) delivers a rule's dead letters: the queue lets it.
    policy = template["Resources"]["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    assert any(
        s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"}
        for s in policy["Statement"]
    )


def test_code_made_schedules_get_the_queue_and_the_scheduler_role_may_use_it(
    template: dict[str, Any],
) -> None:
    for name, props in _functions(template).items():
        allowed = {
            a
            for s in _statements(props)
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        }
        if "scheduler:CreateSchedule" in allowed:
            env = props["Environment"]["Variables"]
            assert env.get("DEAD_LETTER_QUEUE_ARN") == DLQ_ARN, name
    role = template["Resources"]["ResumeSchedulerRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert _may_send_to_dlq(statements)


def test_a_resume_schedule_names_the_dead_letter_queue() -> None:
    from datetime import UTC, datetime

    from nurture.adapters.schedules import EventBridgeResumes

    class Scheduler:
        class exceptions:  # noqa: N801 - mirrors boto3's client.exceptions
            ConflictException = RuntimeError

        def __init__(self) -> None:
            self.calls: list[dict[str, Any]] = []

        def create_schedule(self, **kwargs: Any) -> dict[str, str]:
            self.calls.append(kwargs)
            return {"ScheduleArn": "arn:aws:scheduler:eu-west-1:1:schedule/g/n"}

    client = Scheduler()
    dlq = "arn:aws:sqs:eu-west-1:123456789012:dlq"
    resumes = EventBridgeResumes(client, "g", "arn:aws:iam::1:role/r", dlq)
    resumes.schedule_start("p.1", datetime(2030, 1, 1, tzinfo=UTC), "arn:sm", "run", {"a": 1})
    assert client.calls[0]["Target"]["DeadLetterConfig"] == {"Arn": dlq}
