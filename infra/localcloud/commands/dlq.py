"""`nurture dlq`: list the dead letters of a deployed stack and redrive them.

    nurture dlq list --stack nurture                 # source, function, reason, when
    nurture dlq redrive --stack nurture              # every dead letter
    nurture dlq redrive --stack nurture --id MSG_ID  # only these (repeatable)

Every asynchronous failure of the stack ends on its `DeadLetterQueue` (resolved from the
stack's outputs, else its resources):
- a stream batch the react function kept failing on (Lambda's on-failure record with
  `DDBStreamBatchInfo`): redriven by reading the batch again from the stream
  (GetShardIterator AT_SEQUENCE_NUMBER) and invoking the function with it;
- an asynchronous invocation that failed all its retries (S3 notifications, SNS
  subscriptions, scheduled rules; Lambda's record with `requestPayload`): redriven by
  invoking the function again with that payload;
- a schedule that could not start its target (EventBridge Scheduler: the target's input,
  the target in the message attributes): redriven by starting the execution again.
A redriven letter is deleted once its redrive succeeded; one that fails again stays.
Redrive once the cause is fixed: the handlers are idempotent, so a letter redriven twice
changes nothing the second time.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localcloud.streams import matches_filters

LIST_ROUNDS = 10  # receives in a row that find nothing new before the listing is complete
REDRIVE_VISIBILITY_SECONDS = 300  # a letter being redriven is hidden from other readers


class RedriveFailed(RuntimeError):
    pass


@dataclass
class DeadLetter:
    message_id: str
    receipt_handle: str
    source: str  # stream | async | schedule | unknown
    target: str  # the function or state machine it was for
    reason: str
    sent_at: str
    body: Any
    attributes: dict[str, str] = field(default_factory=dict)


def classify(message: dict[str, Any]) -> DeadLetter:
    """A queue message as a dead letter: where it came from and why it is here."""
    attributes = {
        k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()
    }
    sent = message.get("Attributes", {}).get("SentTimestamp")
    sent_at = datetime.fromtimestamp(int(sent) / 1000, UTC).isoformat() if sent else ""
    try:
        body: Any = json.loads(message["Body"])
    except ValueError:
        body = message["Body"]
    letter = DeadLetter(
        message["MessageId"], message["ReceiptHandle"], "unknown", "", "", sent_at, body, attributes
    )
    context = body.get("requestContext", {}) if isinstance(body, dict) else {}
    if isinstance(body, dict) and "DDBStreamBatchInfo" in body:
        info = body["DDBStreamBatchInfo"]
        letter.source, letter.target = "stream", context.get("functionArn", "")
        letter.reason = (
            f"{context.get('condition')} after {context.get('approximateInvokeCount')} "
            f"invocation(s): {info['batchSize']} record(s) "
            f"{info['startSequenceNumber']}..{info['endSequenceNumber']}"
        )
    elif isinstance(body, dict) and "requestPayload" in body:
        error = body.get("responsePayload") or {}
        letter.source, letter.target = "async", context.get("functionArn", "")
        letter.reason = (
            f"{context.get('condition')} after {context.get('approximateInvokeCount')} "
            f"attempt(s): {error.get('errorType', '')}: {error.get('errorMessage', '')}"
        ).strip()
    elif "TARGET_ARN" in attributes:
        letter.source = "schedule" if "SCHEDULE_ARN" in attributes else "rule"
        letter.target = attributes["TARGET_ARN"]
        letter.reason = f"{attributes.get('ERROR_CODE', '')}: {attributes.get('ERROR_MESSAGE', '')}"
    return letter


class DeadLetters:
    """The dead-letter queue and what a redrive needs: plain boto3 clients (a real stack's,
    or the local cloud's, where Lambda's Invoke reaches the functions in process)."""

    def __init__(
        self,
        queue_url: str,
        sqs: Any,
        lambda_client: Any,
        streams: Any,
        stepfunctions: Any,
    ):
        self.queue_url = queue_url
        self.sqs = sqs
        self.lambda_client = lambda_client
        self.streams = streams
        self.stepfunctions = stepfunctions

    def _receive(self, visibility: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            MessageAttributeNames=["All"],
            AttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        return messages

    def letters(self) -> list[DeadLetter]:
        """Every dead letter, left on the queue (received with no visibility timeout)."""
        found: dict[str, DeadLetter] = {}
        quiet = 0
        while quiet < LIST_ROUNDS:
            new = [m for m in self._receive(0) if m["MessageId"] not in found]
            quiet = 0 if new else quiet + 1
            for message in new:
                found[message["MessageId"]] = classify(message)
        return sorted(found.values(), key=lambda letter: (letter.sent_at, letter.message_id))

    def redrive(self, only: set[str] | None = None) -> list[tuple[DeadLetter, str | None]]:
        """Redrive the letters (or those with the given message ids): each with None if it
        succeeded and was deleted, or why it failed (it stays on the queue). Letters are
        hidden while the redrive runs, and those not deleted are made visible at its end."""
        results: list[tuple[DeadLetter, str | None]] = []
        kept: list[DeadLetter] = []
        try:
            while batch := self._receive(REDRIVE_VISIBILITY_SECONDS):
                for message in batch:
                    letter = classify(message)
                    if only is not None and letter.message_id not in only:
                        kept.append(letter)
                        continue
                    try:
                        self.redrive_one(letter)
                    except Exception as exc:  # noqa: BLE001 - reported per letter; it stays
                        kept.append(letter)
                        results.append((letter, f"{type(exc).__name__}: {exc}"))
                        continue
                    self.sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=letter.receipt_handle
                    )
                    results.append((letter, None))
        finally:
            for letter in kept:
                self._release(letter)
        return results

    def _release(self, letter: DeadLetter) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
        )

    def redrive_one(self, letter: DeadLetter) -> None:
        if letter.source == "stream":
            self._invoke(letter.target, {"Records": self.stream_batch(letter.body)})
        elif letter.source == "async":
            self._invoke(letter.target, letter.body["requestPayload"])
        elif letter.source == "schedule" and ":states:" in letter.target:
            self._start_execution(letter.target, letter.body)
        elif letter.source == "rule" and ":lambda:" in letter.target:
            self._invoke(letter.target, letter.body)
        else:
            raise RedriveFailed(f"no redrive for a {letter.source} letter to {letter.target!r}")

    def stream_batch(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The batch's records, read again from the stream, as Lambda delivered them."""
        info = record["DDBStreamBatchInfo"]
        start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        iterator = self.streams.get_shard_iterator(
            StreamArn=info["streamArn"],
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
        filters = self._filters(record["requestContext"]["functionArn"], info["streamArn"])
        records: list[dict[str, Any]] = []
        while iterator:
            page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            for r in page["Records"]:
                if int(r["dynamodb"]["SequenceNumber"]) > end:
                    return records
                if matches_filters(r, filters):
                    records.append({**r, "eventSourceARN": info["streamArn"]})
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
        if not records or int(records[0]["dynamodb"]["SequenceNumber"]) != start:
            raise RedriveFailed(
                f"the stream no longer holds records {start}..{end} (streams keep 24 hours)"
            )
        return records

    def _filters(self, function_arn: str, stream_arn: str) -> dict[str, Any]:
        """The event source mapping's filter criteria, so the batch is the one delivered."""
        try:
            mappings = self.lambda_client.list_event_source_mappings(
                FunctionName=function_arn.split(":$")[0], EventSourceArn=stream_arn
            )["EventSourceMappings"]
        except Exception:  # noqa: BLE001 - no mapping to read: every record of the range
            return {}
        return {"FilterCriteria": mappings[0].get("FilterCriteria", {})} if mappings else {}

    def _invoke(self, function_arn: str, payload: Any) -> None:
        response = self.lambda_client.invoke(
            FunctionName=function_arn,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload, default=_as_lambda_sends).encode(),
        )
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise RedriveFailed(f"{function_arn} failed again: {body[:500]!r}")
        result = json.loads(body or b"null")
        if isinstance(result, dict) and result.get("batchItemFailures"):
            raise RedriveFailed(f"{function_arn} reported failed records again: {result}")

    def _start_execution(self, machine_arn: str, payload: Any) -> None:
        if isinstance(payload, dict) and "StateMachineArn" in payload:  # the universal target
            kwargs = {
                "stateMachineArn": payload["StateMachineArn"],
                "input": payload.get("Input", "{}"),
            }
            if payload.get("Name"):
                kwargs["name"] = payload["Name"]
        else:
            kwargs = {"stateMachineArn": machine_arn, "input": json.dumps(payload)}
        self.stepfunctions.start_execution(**kwargs)


def _as_lambda_sends(value: Any) -> Any:
    """A stream record's times reach the function as epoch seconds (boto3 parses them)."""
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def resolve_queue(cloudformation: Any, stack: str) -> str:
    """The stack's dead-letter queue URL: its `DeadLetterQueueUrl` output if it has one,
    else the physical id (an SQS queue's is its URL) of its `DeadLetterQueue` resource."""
    stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output["OutputKey"] == "DeadLetterQueueUrl":
            return str(output["OutputValue"])
    resource = cloudformation.describe_stack_resource(
        StackName=stack, LogicalResourceId="DeadLetterQueue"
    )
    return str(resource["StackResourceDetail"]["PhysicalResourceId"])


def for_stack(stack: str, region: str | None = None) -> DeadLetters:
    import boto3

    session = boto3.Session(region_name=region)
    return DeadLetters(
        resolve_queue(session.client("cloudformation"), stack),
        session.client("sqs"),
        session.client("lambda"),
        session.client("dynamodbstreams"),
        session.client("stepfunctions"),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "redrive"])
    parser.add_argument("--stack", required=True, help="the deployed stack's name")
    parser.add_argument("--region", help="the stack's region (default: your AWS config's)")
    parser.add_argument(
        "--id", action="append", default=None, metavar="MESSAGE_ID", help="redrive only these"
    )
    parser.add_argument("--json", action="store_true", help="list as JSON lines")


def run(args: argparse.Namespace) -> int:
    letters = for_stack(args.stack, args.region)
    if args.action == "list":
        found = letters.letters()
        for letter in found:
            if args.json:
                print(json.dumps(letter.__dict__, default=str))
            else:
                print(f"{letter.message_id}  {letter.sent_at}  {letter.source:<8} {letter.target}")
                print(f"    {letter.reason}")
        print(f"{len(found)} dead letter(s)", file=sys.stderr)
        return 0
    results = letters.redrive(set(args.id) if args.id else None)
    for letter, problem in results:
        print(
            f"{letter.message_id}  {letter.source:<8} {'redriven' if problem is None else problem}"
        )
    failed = sum(problem is not None for _, problem in results)
    print(f"{len(results) - failed} redriven, {failed} failed again", file=sys.stderr)
    return 1 if failed else 0
