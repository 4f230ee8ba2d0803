# mypy: disable-error-code="misc"
# (the mixins annotate self as the LocalCloud they are part of, so their bodies are checked)
"""Where failures go, as AWS sends them: asynchronous invocations (S3 notifications, SNS
subscriptions, scheduled rules) are retried by Lambda on the virtual clock, one minute and
then two minutes later (`EventInvokeConfig.MaximumRetryAttempts`, 2 by default), and then
go to the function's on-failure destination as Lambda's invocation record (requestContext,
requestPayload, responseContext, responsePayload). Stream batches and schedules send their
own records through `send_to_destination`."""

from __future__ import annotations

import io
import itertools
import json
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

# Lambda waits a minute before the first retry of an asynchronous invocation, two before
# the second.
ASYNC_RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=2))
_ORDER = itertools.count()  # ties between retries due at the same moment: first come first


@dataclass(order=True)
class _PendingRetry:
    due: datetime
    order: int
    function: str = field(compare=False)
    event: Any = field(compare=False)
    attempt: int = field(compare=False)  # attempts made so far
    request_id: str = field(compare=False)


class FailuresMixin:
    # --- destinations ---------------------------------------------------------------------
    def send_to_destination(
        self: LocalCloud,
        arn: str,
        body: dict[str, Any],
        attributes: dict[str, str] | None = None,
    ) -> None:
        """Deliver a failure record to an SQS queue or SNS topic ARN, as AWS would."""
        service = arn.split(":")[2]
        text = json.dumps(body, default=str)
        if service == "sqs":
            sqs = self.client("sqs")
            url = sqs.get_queue_url(QueueName=arn.split(":")[5])["QueueUrl"]
            message: dict[str, Any] = {"QueueUrl": url, "MessageBody": text}
            if attributes:
                message["MessageAttributes"] = {
                    k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                }
            sqs.send_message(**message)
        elif service == "sns":
            self.client("sns").publish(TopicArn=arn, Message=text)
        else:
            self.errors.append(f"failure destination {arn}: not an SQS queue or SNS topic")
            return
        self._emit("dead letters", f"failure record sent to {arn.split(':')[-1]}")

    # --- asynchronous invocations -----------------------------------------------------------
    def invoke_config(self: LocalCloud, function: str) -> dict[str, Any]:
        """The function's `EventInvokeConfig` from the template (resolved), or {}."""
        props = self.template["Resources"][function].get("Properties", {})
        config: dict[str, Any] = self.resolver.resolve(props.get("EventInvokeConfig", {}))
        return config

    def invoke_async(self: LocalCloud, function: str, event: Any) -> None:
        """Invoke as Lambda's asynchronous invocation does: a failure is retried later on
        the virtual clock, and one that keeps failing goes to the on-failure destination."""
        logical = self.function_by_name(function).logical_id
        self._attempt_async(logical, event, attempt=0, request_id=str(uuid.uuid4()))

    def _attempt_async(
        self: LocalCloud, logical: str, event: Any, attempt: int, request_id: str
    ) -> None:
        try:
            self.invoke(logical, event)
            return
        except Exception as exc:  # noqa: BLE001 - Lambda retries, then the destination
            self.errors.append(f"{logical}: {type(exc).__name__}: {exc}")
            error = exc
        attempt += 1
        max_retries = int(self.invoke_config(logical).get("MaximumRetryAttempts", 2))
        if attempt <= max_retries:
            pending: list[_PendingRetry] = self.__dict__.setdefault("_async_retries", [])
            delay = ASYNC_RETRY_DELAYS[min(attempt - 1, len(ASYNC_RETRY_DELAYS) - 1)]
            pending.append(
                _PendingRetry(
                    self.clock.now() + delay, next(_ORDER), logical, event, attempt, request_id
                )
            )
            return
        self._async_failed(logical, event, attempt, request_id, error)

    def _async_failed(
        self: LocalCloud,
        logical: str,
        event: Any,
        attempts: int,
        request_id: str,
        error: Exception,
    ) -> None:
        fn = self.functions[logical]
        destination = (
            self.invoke_config(logical)
            .get("DestinationConfig", {})
            .get("OnFailure", {})
            .get("Destination")
        )
        self.errors.append(f"{logical}: asynchronous invocation failed {attempts} time(s)")
        if not destination:
            return  # Lambda drops the event
        record = {
            "version": "1.0",
            "timestamp": self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "requestContext": {
                "requestId": request_id,
                "functionArn": f"{fn.arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "requestId": request_id,
                "stackTrace": traceback.format_exception(error)[-3:],
            },
        }
        self.send_to_destination(destination, record)

    def _lambda_invoke(self: LocalCloud, context: Any, **_: Any) -> tuple[Any, dict[str, Any]]:
        """Lambda's Invoke API on the local functions: `Event` invocations are asynchronous
        (retries, destination), others answer with the result or the function's error."""
        from botocore.awsrequest import AWSResponse
        from botocore.response import StreamingBody

        params = context.get("nurture_params") or {}
        payload = params.get("Payload") or b"{}"
        event = json.loads(payload.read() if hasattr(payload, "read") else payload)
        name = params["FunctionName"]
        parsed: dict[str, Any] = {"ExecutedVersion": "$LATEST"}
        if params.get("InvocationType") == "Event":
            self.invoke_async(name, event)
            body, parsed["StatusCode"] = b"", 202
        else:
            try:
                body = json.dumps(self.invoke(name, event), default=str).encode()
            except Exception as exc:  # noqa: BLE001 - answered as Lambda answers it
                self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
                body, parsed["FunctionError"] = json.dumps(error).encode(), "Unhandled"
            parsed["StatusCode"] = 200
        parsed["Payload"] = StreamingBody(io.BytesIO(body), len(body))
        return AWSResponse("local", parsed["StatusCode"], {}, None), parsed


class AsyncRetries:
    """The pending retries of asynchronous invocations, as a timer for the virtual clock."""

    def __init__(self, cloud: LocalCloud):
        self.cloud = cloud
        self.pending: list[_PendingRetry] = cloud.__dict__.setdefault("_async_retries", [])

    def next_due(self) -> datetime | None:
        return min(self.pending).due if self.pending else None

    def fire(self, now: datetime) -> None:
        for retry in sorted(r for r in self.pending if r.due <= now):
            self.pending.remove(retry)
            self.cloud._attempt_async(retry.function, retry.event, retry.attempt, retry.request_id)
