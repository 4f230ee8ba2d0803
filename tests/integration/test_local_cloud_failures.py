"""The local cloud fails the way AWS fails: a cancelled transaction does not stop the
stream reader, a poison record goes to the stream's failure destination while the records
after it are processed, asynchronous invocations are retried and then dead-lettered, and a
schedule that cannot start its target dead-letters it. Nothing is lost."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import pytest

from localcloud import LocalCloud, audit
from localcloud.cloud import _Function
from tests.integration.signup import marketing
from tests.integration.signup import sign_up as sign_up_and_confirm

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

TRACK = {
    "anonymousId": "visitor-1",
    "event": "Pricing Viewed",
    "messageId": "same-id",
    "timestamp": "2026-01-05T09:00:00Z",
}


def sign_up(cloud: LocalCloud, email: str) -> None:
    """The newsletter sign-up, confirmed from its double opt-in email."""
    sign_up_and_confirm(cloud, {"email": email, "first_name": "Ada", "consent_newsletter": "on"})


def dead_letters(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every message on the DeadLetterQueue (body and attributes), left on the queue."""
    sqs = cloud.client("sqs")
    url = cloud.resolver.refs["DeadLetterQueue"]
    found: dict[str, dict[str, Any]] = {}
    for _ in range(5):
        for m in sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
        ).get("Messages", []):
            found[m["MessageId"]] = {
                "body": json.loads(m["Body"]),
                "attributes": {
                    k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()
                },
            }
    return list(found.values())


def react_letters(cloud: LocalCloud) -> list[dict[str, Any]]:
    """The dead letters of the react function's stream mapping (another consumer of the
    stream, such as the lake, sends its own)."""
    arn = cloud.functions["ReactFunction"].arn
    return [
        letter
        for letter in dead_letters(cloud)
        if letter["body"].get("requestContext", {}).get("functionArn") == arn
    ]


def put_poison(cloud: LocalCloud) -> None:
    """A stored activity the react function cannot read (as a bad write or a bug would)."""
    cloud.client("dynamodb").put_item(
        TableName=cloud.resolver.refs["ActivitiesTable"],
        Item={"pk": {"S": "anon:poison"}, "sk": {"S": "2026-01-05#poison"}, "doc": {"S": "{"}},
    )


# --- a cancelled transaction does not stop reactions ------------------------------------------


def test_after_a_duplicate_message_id_the_next_sign_up_is_still_reacted_to(
    live: LocalCloud, tables: Tables
) -> None:
    # Given an event was posted twice with the same messageId (the second write is a
    # cancelled transaction, after which moto holds a copy of the table)
    assert live.http("POST", "/v1/track", TRACK)[0] == 200
    _, _, body = live.http("POST", "/v1/track", TRACK)
    assert body["results"][0]["status"] == "duplicate"

    # When a new address signs up
    sign_up(live, "grace@example.com")

    # Then it is reacted to: a contact, an entry into the welcome program, an email
    contact = tables.contact_by_email("grace@example.com")
    assert [a.name for a in tables.activities_of(contact) if a.name == "program.entered"] == [
        "program.entered"
    ]
    assert len(tables.executions("welcome")) == 1
    assert [e.to for e in marketing(live)] == [["grace@example.com"]]
    assert live.errors == []


def test_the_audit_notices_a_stream_reader_that_stopped(live: LocalCloud) -> None:
    # Given a reader that stops (its mapping loses what it delivered, as a stuck reader would)
    sign_up(live, "ada@example.com")
    mapping = next(m for m in live.stream_mappings() if m.function == "ReactFunction")
    mapping.delivered.clear()

    # Then the audit run when the test ends lists every activity as never delivered
    findings = audit.audit(live)
    assert findings.undelivered
    assert all(line.startswith("ReactFunction.Activity: INSERT") for line in findings.undelivered)
    mapping.delivered.update(line.split()[2] for line in findings.undelivered)  # tidy up


# --- a poison record ------------------------------------------------------------------------


@pytest.mark.expect_function_errors
def test_a_poison_record_goes_to_the_destination_while_the_records_after_it_are_processed(
    live: LocalCloud, tables: Tables
) -> None:
    # Given a stored activity the react function cannot read, in the same batch as a sign-up
    put_poison(live)
    sign_up(live, "ada@example.com")

    # Then the sign-up after it was reacted to, once: a contact, one welcome email
    tables.contact_by_email("ada@example.com")
    assert [e.tags["step_id"] for e in marketing(live)] == ["welcome-1"]
    # and the batch from the poison record on went to the failure destination, as Lambda's
    # on-failure record of a DynamoDB stream batch
    [letter] = react_letters(live)
    record = letter["body"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["functionArn"] == live.functions["ReactFunction"].arn
    assert record["requestContext"]["approximateInvokeCount"] == 4  # MaximumRetryAttempts: 3
    info = record["DDBStreamBatchInfo"]
    assert info["streamArn"] == live.resolver.attrs[("ActivitiesTable", "StreamArn")]
    assert info["batchSize"] == 2
    assert int(info["startSequenceNumber"]) < int(info["endSequenceNumber"])

    # And a later sign-up is not held back by it
    sign_up(live, "grace@example.com")
    assert [e.to for e in marketing(live)][-1] == ["grace@example.com"]
    assert len(react_letters(live)) == 1
    # and no record was lost: every stored activity reached the react function
    assert live.undelivered_records() == []


@pytest.mark.expect_function_errors
def test_a_poison_record_alone_is_retried_a_bounded_number_of_times(live: LocalCloud) -> None:
    calls: list[int] = []
    react = live.functions["ReactFunction"]
    real = react.handler

    def counting(event: dict[str, Any], context: Any) -> Any:
        calls.append(len(event["Records"]))
        return real(event, context)

    react.handler = counting
    put_poison(live)
    live.run_until_idle()

    assert calls == [1, 1, 1, 1]  # the first attempt and MaximumRetryAttempts: 3
    [letter] = react_letters(live)
    assert letter["body"]["DDBStreamBatchInfo"]["batchSize"] == 1


@pytest.mark.expect_function_errors
def test_a_failing_batch_is_bisected_so_the_good_half_is_processed(live: LocalCloud) -> None:
    # Given a react function that fails a whole invocation holding the poison record
    # (no partial batch response), as a crash would
    seen: list[list[str]] = []
    react = live.functions["ReactFunction"]
    real = react.handler

    def crashing(event: dict[str, Any], context: Any) -> Any:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        seen.append(keys)
        if "anon:poison" in keys:
            raise RuntimeError("crash")
        return real(event, context)

    react.handler = crashing
    put_poison(live)
    sign_up(live, "ada@example.com")

    # Then the batch was split: the poison record alone went to the destination, and the
    # sign-up was processed (one email)
    assert len(seen[0]) >= 2 and seen[1] == ["anon:poison"]
    assert [e.to for e in marketing(live)] == [["ada@example.com"]]
    [letter] = react_letters(live)
    assert letter["body"]["DDBStreamBatchInfo"]["batchSize"] == 1


# --- two consumers of one stream (each mapping keeps its own position) ------------------------


def test_two_functions_consume_one_stream_each_from_its_own_position(
    live: LocalCloud,
) -> None:
    received: list[str] = []

    def lake(event: dict[str, Any], context: Any) -> dict[str, Any]:
        received.extend(r["dynamodb"]["SequenceNumber"] for r in event["Records"])
        return {"batchItemFailures": []}

    stream = live.resolver.attrs[("ActivitiesTable", "StreamArn")]
    react = live.functions["ReactFunction"]
    live.functions["LakeFunction"] = _Function(
        "LakeFunction",
        "nurture-LakeFunction",
        react.arn.replace("ReactFunction", "LakeFunction"),
        react.module,
        lake,
        react.env,
        {"Lake": {"Type": "DynamoDB", "Properties": {"Stream": stream, "BatchSize": 2}}},
    )
    live.__dict__.pop("_stream_mappings")
    sign_up(live, "ada@example.com")

    react_mapping, lake_mapping = sorted(
        live.stream_mappings(), key=lambda m: m.function != "ReactFunction"
    )
    assert react_mapping.delivered and lake_mapping.delivered >= react_mapping.delivered
    assert sorted(received) == sorted(lake_mapping.delivered)  # each record once
    assert [e.to for e in marketing(live)] == [["ada@example.com"]]


# --- asynchronous invocations and schedules -------------------------------------------------


def break_deploys(cloud: LocalCloud) -> Callable[[], None]:
    """Make the deploy function fail (Step Functions unreachable); returns the repair."""
    module = cloud.functions["DeployFunction"].module
    real = module.deploy_program

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Step Functions is unreachable")

    module.deploy_program = unreachable
    return lambda: setattr(module, "deploy_program", real)


@pytest.mark.expect_function_errors
def test_an_s3_triggered_deploy_that_keeps_failing_lands_in_the_queue_after_two_retries(
    cloud: LocalCloud,
) -> None:
    cloud.sync_content(only=[])
    break_deploys(cloud)
    program = (cloud.root / "programs/welcome.yaml").read_text()

    # When the upload's invocation fails
    cloud.upload("programs/welcome.yaml", program)
    assert dead_letters(cloud) == []
    # Then Lambda retries after a minute and after two more, then gives up to the queue
    cloud.advance(timedelta(seconds=61))
    assert dead_letters(cloud) == []
    assert sum("DeployFunction: ConnectionError" in e for e in cloud.errors) == 2
    cloud.advance(timedelta(minutes=2))
    [letter] = dead_letters(cloud)
    record = letter["body"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(
        ":function:nurture-DeployFunction:$LATEST"
    )
    key = record["requestPayload"]["Records"][0]["s3"]["object"]["key"]
    assert unquote_plus(key) == "programs/welcome.yaml"  # S3 events carry keys URL-encoded
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ConnectionError"


@pytest.mark.expect_function_errors
def test_an_invocation_that_succeeds_on_retry_sends_nothing_to_the_queue(
    cloud: LocalCloud,
) -> None:
    cloud.sync_content(only=[])
    repair = break_deploys(cloud)
    cloud.upload("programs/welcome.yaml", (cloud.root / "programs/welcome.yaml").read_text())
    repair()
    cloud.advance(timedelta(minutes=5))
    assert dead_letters(cloud) == []
    status = json.loads(cloud.read("programs/welcome.status.json") or "{}")
    assert status["status"] == "live"


@pytest.mark.expect_function_errors
def test_a_schedule_that_cannot_start_its_target_goes_to_its_dead_letter_queue(
    cloud: LocalCloud,
) -> None:
    queue_arn = cloud.resolver.attrs[("DeadLetterQueue", "Arn")]
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:nurture-program-gone"
    cloud.client("scheduler").create_schedule(
        Name="resume-gone",
        GroupName=cloud.resolver.refs["ResumeScheduleGroup"],
        ScheduleExpression="at(2026-01-05T10:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": machine,
            "RoleArn": cloud.resolver.attrs[("ResumeSchedulerRole", "Arn")],
            "Input": json.dumps({"contact_id": "c-1"}),
            "DeadLetterConfig": {"Arn": queue_arn},
        },
    )
    cloud.advance(timedelta(hours=2))

    [letter] = dead_letters(cloud)
    assert letter["body"] == {"contact_id": "c-1"}
    assert letter["attributes"]["TARGET_ARN"] == machine
    assert letter["attributes"]["SCHEDULE_ARN"].endswith("/resume-gone")
    assert letter["attributes"]["ERROR_CODE"] == "StateMachineDoesNotExist"
