"""`nurture dlq`: the dead letters are listed with their source and reason, and a redrive
after the cause is fixed processes them and deletes them. Run on the local cloud with the
same boto3 calls a deployed stack gets (SQS, Lambda Invoke, DynamoDB Streams)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from localcloud import LocalCloud
from localcloud.commands import dlq
from localcloud.commands.dlq import DeadLetters

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = [pytest.mark.integration, pytest.mark.expect_function_errors]


def letters_of(cloud: LocalCloud) -> DeadLetters:
    return DeadLetters(
        cloud.resolver.refs["DeadLetterQueue"],
        cloud.client("sqs"),
        cloud.client("lambda"),
        cloud.streams_client(),
        cloud.client("stepfunctions"),
    )


def break_function(cloud: LocalCloud, logical_id: str) -> Callable[[], None]:
    """Make a function fail as an outage would; returns the repair."""
    fn = cloud.functions[logical_id]
    real = fn.handler

    def down(event: Any, context: Any) -> Any:
        raise ConnectionError("the service it needs is down")

    fn.handler = down
    return lambda: setattr(fn, "handler", real)


def sign_up(cloud: LocalCloud, email: str) -> None:
    status, _, body = cloud.http(
        "POST",
        "/v1/forms/newsletter-signup",
        {"email": email, "first_name": "Ada", "consent_newsletter": "on"},
    )
    assert status == 202, body


def test_a_stream_batch_is_listed_and_redriven_once_the_react_function_works_again(
    live: LocalCloud, tables: Tables
) -> None:
    # Given the react function was down when Ada signed up: her batch went to the queue
    repair = break_function(live, "ReactFunction")
    sign_up(live, "ada@example.com")
    assert live.outbox == []
    letters = letters_of(live)
    [letter] = [x for x in letters.letters() if x.target == live.functions["ReactFunction"].arn]
    assert letter.source == "stream"
    assert letter.reason.startswith("RetryAttemptsExhausted after 4 invocation(s):")

    # When the function is fixed and the letters are redriven
    repair()
    results = letters.redrive({letter.message_id})
    live.run_until_idle()  # what the redriven reaction started (the confirmation email)

    # Then the batch was read again from the stream and reacted to, and the letter is gone
    assert [(r.message_id, problem) for r, problem in results] == [(letter.message_id, None)]
    tables.contact_by_email("ada@example.com")
    assert [(e.to, e.tags["kind"]) for e in live.outbox] == [(["ada@example.com"], "double_opt_in")]
    assert letter.message_id not in {x.message_id for x in letters.letters()}


def test_an_async_failure_is_redriven_with_its_request_payload(cloud: LocalCloud) -> None:
    # Given a program upload whose deploy kept failing (three attempts, then the queue)
    cloud.sync_content(only=[])
    repair = break_function(cloud, "DeployFunction")
    cloud.upload("programs/welcome.yaml", (cloud.root / "programs/welcome.yaml").read_text())
    cloud.advance(timedelta(minutes=5))
    letters = letters_of(cloud)
    [letter] = letters.letters()
    assert letter.source == "async"
    assert letter.target.endswith(":function:nurture-DeployFunction:$LATEST")
    assert "ConnectionError: the service it needs is down" in letter.reason
    assert cloud.read("programs/welcome.status.json") is None

    # When a redrive runs while the cause is not fixed, the letter stays
    [(_, problem)] = letters.redrive()
    assert problem is not None and "failed again" in problem
    assert [x.message_id for x in letters.letters()] == [letter.message_id]

    # And once it is fixed, the redrive deploys the program and deletes the letter
    repair()
    assert [(x.message_id, p) for x, p in letters.redrive()] == [(letter.message_id, None)]
    status = json.loads(cloud.read("programs/welcome.status.json") or "{}")
    assert status["status"] == "live"
    assert letters.letters() == []


def test_the_cli_lists_and_redrives(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.sync_content(only=[])
    repair = break_function(cloud, "DeployFunction")
    cloud.upload("programs/welcome.yaml", (cloud.root / "programs/welcome.yaml").read_text())
    cloud.advance(timedelta(minutes=5))
    monkeypatch.setattr(dlq, "for_stack", lambda stack, region=None: letters_of(cloud))

    def run(*argv: str) -> int:
        parser = argparse.ArgumentParser()
        dlq.add_arguments(parser)
        return dlq.run(parser.parse_args(list(argv)))

    assert run("list", "--stack", "nurture") == 0
    out = capsys.readouterr()
    assert "async" in out.out and "nurture-DeployFunction" in out.out
    assert "1 dead letter(s)" in out.err
    repair()
    assert run("redrive", "--stack", "nurture") == 0
    assert "1 redriven, 0 failed again" in capsys.readouterr().err


def test_a_schedule_letter_is_redriven_by_starting_the_execution_again(
    cloud: LocalCloud,
) -> None:
    cloud.sync_content(only=["welcome"])
    machine = next(
        m["stateMachineArn"]
        for m in cloud.client("stepfunctions").list_state_machines()["stateMachines"]
        if m["name"] == "nurture-program-welcome"
    )
    letter = dlq.classify(
        {
            "MessageId": "m-1",
            "ReceiptHandle": "r-1",
            "Body": json.dumps({"contact_id": "c-1", "resume_at": "nowhere"}),
            "MessageAttributes": {
                "TARGET_ARN": {"StringValue": machine, "DataType": "String"},
                "SCHEDULE_ARN": {
                    "StringValue": "arn:aws:scheduler:::schedule/g/s",
                    "DataType": "String",
                },
                "ERROR_CODE": {"StringValue": "ThrottlingException", "DataType": "String"},
                "ERROR_MESSAGE": {"StringValue": "Rate exceeded", "DataType": "String"},
            },
        }
    )
    assert (letter.source, letter.reason) == ("schedule", "ThrottlingException: Rate exceeded")
    letters_of(cloud).redrive_one(letter)
    cloud.run_until_idle()
    runs = cloud.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert len(runs) == 1


# --- the deployed stack's queue, resolved through CloudFormation (botocore's own stubs
#     check the requests and responses against the service model) ----------------------------


def test_the_queue_is_resolved_from_the_stack_output_or_its_resource() -> None:
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/nurture-DeadLetterQueue-abc"
    stack = {"StackName": "nurture", "CreationTime": "2026-01-01T00:00:00Z"}
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        **stack,
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": "DeadLetterQueueUrl", "OutputValue": url}],
                    }
                ]
            },
            {"StackName": "nurture"},
        )
        assert dlq.resolve_queue(cfn, "nurture") == url
        stub.add_response(
            "describe_stacks",
            {"Stacks": [{**stack, "StackStatus": "CREATE_COMPLETE"}]},
            {"StackName": "nurture"},
        )
        stub.add_response(
            "describe_stack_resource",
            {
                "StackResourceDetail": {
                    "LogicalResourceId": "DeadLetterQueue",
                    "PhysicalResourceId": url,
                    "ResourceType": "AWS::SQS::Queue",
                    "LastUpdatedTimestamp": "2026-01-01T00:00:00Z",
                    "ResourceStatus": "CREATE_COMPLETE",
                }
            },
            {"StackName": "nurture", "LogicalResourceId": "DeadLetterQueue"},
        )
        assert dlq.resolve_queue(cfn, "nurture") == url
