"""Faults for the local cloud, configured per test (`cloud.faults`).

AWS fails in a few ways a function must survive, and each can be asked for here:

- `throttle(service, operation, rate=...)` / `fail(service, operation, code, ...)`: an AWS
  request answered with an error instead of reaching moto (nothing happens). A fault is made
  per HTTP *attempt*, below the SDK's own retries: botocore's real retry logic (the client's
  retry mode, its retryable codes) decides whether the call still succeeds, as it does on AWS.
  `rate` < 1 draws from the cloud's seeded RNG (`Faults(seed=...)`), `times` bounds how many
  are injected, `skip` lets the first matching attempts through, `where` looks at the call's
  parameters, `function` narrows it to one function's calls.
- `crash_after(service, operation)`: the call succeeded, then the function's process died
  (out of memory, killed): nothing in the function can catch it, its invocation fails.
- `timeout(function, after_calls=N)` or `timeout(function, budget=...)`: the invocation is
  stopped part-way, as Lambda stops a function at its timeout. Each AWS request costs the
  invocation `latency` of virtual time (and the SDK's back-off sleeps count too).
- `throttle_invocations(function)`: Lambda refuses to run the function
  (TooManyRequestsException); a Step Functions Lambda task sees `Lambda.TooManyRequestsException`.
- `random(rate)`: any call a function or a state machine makes fails at random, with the
  service's throttling or internal-error answer.

Calls are told apart by who makes them: `function` (code inside an invocation, the
default), `statemachine` (moto's interpreter: a Task's own request), `scheduler` (EventBridge
Scheduler starting a target). The test's own calls (`cloud.client(...)`) are never faulted.
Every injection is recorded in `faults.injected`. The SDK's back-off sleeps and the adaptive
retry mode's rate limiter do not wait in real time while the local cloud runs."""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from localcloud import dynamo_bridge
from localcloud.sfn_callbacks import install_task_callback_guard

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud, _Function

# Service names as the boto3 client is named; botocore's event names use service ids.
_SERVICE_IDS = {"sfn": "stepfunctions", "pinpoint-sms-voice-v2": "pinpoint-sms-voice-v2"}
# Each service's throttling answer (error code, HTTP status), as AWS gives it.
THROTTLING: dict[str, tuple[str, int]] = {
    "dynamodb": ("ProvisionedThroughputExceededException", 400),
    "s3": ("SlowDown", 503),
    "sns": ("Throttled", 429),
    "sesv2": ("TooManyRequestsException", 429),
    "lambda": ("TooManyRequestsException", 429),
    "scheduler": ("ThrottlingException", 429),
    "stepfunctions": ("ThrottlingException", 400),
    "pinpoint-sms-voice-v2": ("ThrottlingException", 429),
}
# Each service's "something went wrong on our side" answer.
INTERNAL: dict[str, tuple[str, int]] = {
    "dynamodb": ("InternalServerError", 500),
    "s3": ("InternalError", 500),
    "sns": ("InternalError", 500),
    "sesv2": ("InternalServiceErrorException", 500),
}
DEFAULT_LATENCY = timedelta(milliseconds=20)  # virtual time an AWS request costs a function


class Crash(BaseException):
    """The function's runtime is gone (a BaseException: no `except Exception` in the
    function catches it, as nothing in a killed process runs)."""


class FunctionCrashed(RuntimeError):
    """What the invoker sees of a crashed or timed-out invocation (Lambda's error)."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


# Lambda's error types for a killed invocation, as the invoker (a Step Functions task) sees them.
LAMBDA_ERRORS: dict[str, type[FunctionCrashed]] = {
    name: type(name, (FunctionCrashed,), {}) for name in ("Sandbox.Timedout", "Runtime.ExitError")
}


class TooManyRequestsException(RuntimeError):
    """Lambda refused to run the function (throttled): its invoker sees this error."""


@dataclass
class Injection:
    kind: str  # error | crash | timeout | invocation
    service: str
    operation: str
    code: str
    function: str | None
    source: str


@dataclass
class Fault:
    kind: str  # error | crash | timeout | invocation
    service: str = "*"
    operation: str = "*"
    code: str = ""
    status: int = 400
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # more fields of the error answer
    rate: float = 1.0
    times: int | None = None
    skip: int = 0
    function: str | None = None  # logical id; None: any
    source: str = "function"  # function | statemachine | scheduler | any
    where: Callable[[dict[str, Any]], bool] | None = None
    after_calls: int | None = None  # timeout: after this many AWS calls
    budget: timedelta | None = None  # timeout: at this much virtual time
    seen: int = 0
    injected: int = 0

    def matches(self, call: _Call) -> bool:
        if self.source != "any" and call.source != self.source:
            return False
        if self.function is not None and call.function != self.function:
            return False
        if self.service not in ("*", call.service):
            return False
        if self.operation not in ("*", call.operation):
            return False
        return self.where is None or bool(self.where(call.params))


@dataclass
class _Call:
    service: str
    operation: str
    params: dict[str, Any]
    source: str
    function: str | None
    protocol: str = "json"


@dataclass
class _Invocation:
    function: str
    budget: timedelta
    calls: int = 0
    elapsed: timedelta = timedelta(0)
    meet_at: tuple[str, str] | None = None  # concurrency: wait here for the others once
    barrier: threading.Barrier | None = None


_tls = threading.local()
_active: list[Faults] = []  # the running cloud's faults (one cloud runs at a time)


class Faults:
    def __init__(self, cloud: LocalCloud, seed: int = 0):
        self.cloud = cloud
        self.rules: list[Fault] = []
        self.injected: list[Injection] = []
        self.rng = random.Random(seed)
        self.latency = DEFAULT_LATENCY
        self.meetings = 0  # concurrent invocations that met at their barrier (concurrency.py)
        self._lock = threading.RLock()
        self.moto_lock = threading.RLock()  # moto's backends are not all thread-safe

    # --- configuring ----------------------------------------------------------------
    def seed(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def fail(
        self,
        service: str,
        operation: str = "*",
        code: str = "InternalServerError",
        status: int = 400,
        message: str = "",
        **options: Any,
    ) -> Fault:
        return self.add(
            Fault(
                "error", service, operation, code, status, message or f"injected {code}", **options
            )
        )

    def throttle(self, service: str, operation: str = "*", **options: Any) -> Fault:
        code, status = THROTTLING.get(service, ("ThrottlingException", 400))
        return self.fail(service, operation, code, status, "Rate exceeded", **options)

    def crash_after(self, service: str, operation: str = "*", **options: Any) -> Fault:
        return self.add(Fault("crash", service, operation, "Runtime.ExitError", **options))

    def timeout(
        self,
        function: str,
        after_calls: int | None = None,
        budget: timedelta | None = None,
        **options: Any,
    ) -> Fault:
        """Stop `function`'s invocation part-way: before its AWS call number
        `after_calls + 1`, or once `budget` of virtual time is spent (default: the
        function's Timeout in the template)."""
        return self.add(
            Fault(
                "timeout",
                code="Sandbox.Timedout",
                function=function,
                after_calls=after_calls,
                budget=budget,
                **options,
            )
        )

    def throttle_invocations(self, function: str, **options: Any) -> Fault:
        options.setdefault("source", "any")
        return self.add(
            Fault("invocation", "lambda", "Invoke", "TooManyRequestsException", 429,
                  "Rate Exceeded.", function=function, **options)
        )  # fmt: skip

    def random(self, rate: float, sources: tuple[str, ...] = ("function", "statemachine")) -> None:
        """Any AWS request made by `sources` fails with probability `rate`: half of them
        throttled, half an internal error (both retryable, as on AWS)."""
        for source in sources:
            self.add(Fault("random", rate=rate, source=source))

    # --- reading ---------------------------------------------------------------------
    def count(self, kind: str | None = None, code: str | None = None) -> int:
        return sum(
            1
            for i in self.injected
            if (kind is None or i.kind == kind) and (code is None or i.code == code)
        )

    # --- deciding --------------------------------------------------------------------
    def _draw(self, fault: Fault, call: _Call) -> bool:
        """Whether `fault` hits `call` now (counts it). Caller holds the lock."""
        if not fault.matches(call):
            return False
        fault.seen += 1
        if fault.seen <= fault.skip:
            return False
        if fault.times is not None and fault.injected >= fault.times:
            return False
        if fault.rate < 1 and self.rng.random() >= fault.rate:
            return False
        fault.injected += 1
        return True

    def _record(self, kind: str, call: _Call, code: str) -> None:
        self.injected.append(
            Injection(kind, call.service, call.operation, code, call.function, call.source)
        )

    def error_for(self, call: _Call) -> tuple[str, int, str, dict[str, Any]] | None:
        with self._lock:
            for fault in self.rules:
                if fault.kind == "random":
                    if self._draw(fault, call):
                        table = THROTTLING if self.rng.random() < 0.5 else INTERNAL
                        code, status = table.get(call.service, ("ServiceUnavailable", 503))
                        self._record("error", call, code)
                        return code, status, f"injected {code}", {}
                elif fault.kind == "error" and self._draw(fault, call):
                    self._record("error", call, fault.code)
                    return fault.code, fault.status, fault.message, fault.extra
        return None

    def could_fail(self, call: _Call) -> bool:
        """Whether an error fault could hit this call (nothing counted or drawn): such a
        call takes the HTTP path, where faults are made per attempt (dynamo_bridge)."""
        with self._lock:
            return any(f.kind in ("error", "random") and f.matches(call) for f in self.rules)

    def _crash_for(self, call: _Call) -> bool:
        with self._lock:
            for fault in self.rules:
                if fault.kind == "crash" and self._draw(fault, call):
                    self._record("crash", call, fault.code)
                    return True
        return False

    def _check_timeout(self, call: _Call, inv: _Invocation) -> None:
        with self._lock:
            for fault in self.rules:
                if fault.kind != "timeout" or fault.function != inv.function:
                    continue
                budget = fault.budget or inv.budget
                over = (
                    inv.calls > fault.after_calls
                    if fault.after_calls is not None
                    else inv.elapsed >= budget
                )
                if over and (fault.times is None or fault.injected < fault.times):
                    fault.injected += 1
                    self._record("timeout", call, fault.code)
                    seconds = budget.total_seconds()
                    raise Crash("Sandbox.Timedout", f"Task timed out after {seconds:.2f} seconds")

    def _invocation_refused(self, function: str, source: str) -> bool:
        call = _Call("lambda", "Invoke", {}, source, function)
        with self._lock:
            for fault in self.rules:
                if fault.kind == "invocation" and self._draw(fault, call):
                    self._record("invocation", call, fault.code)
                    return True
        return False

    # --- the invocation path (cloud.invoke) ------------------------------------------
    @contextmanager
    def invocation(self, fn: _Function, source: str = "function") -> Iterator[None]:
        """Around one run of a function's handler: who makes the AWS calls, the virtual
        time they cost, and a crash turned into the error Lambda reports."""
        # (a state machine's Lambda task was refused or let through before it got here)
        if _source()[0] != "statemachine" and self._invocation_refused(fn.logical_id, source):
            raise TooManyRequestsException("Rate Exceeded.")
        outer = getattr(_tls, "invocation", None)
        inv = _Invocation(fn.logical_id, self._function_timeout(fn.logical_id))
        meeting = getattr(_tls, "meeting", None)
        if meeting is not None:
            inv.meet_at, inv.barrier = meeting
        _tls.invocation = inv
        try:
            yield
        except Crash as crash:
            error_type, message = (crash.args + ("Runtime.ExitError", "crashed"))[:2]
            kind = LAMBDA_ERRORS.get(str(error_type), FunctionCrashed)
            raise kind(str(error_type), str(message)) from None
        finally:
            _tls.invocation = outer

    def _function_timeout(self, logical: str) -> timedelta:
        props = self.cloud.template["Resources"][logical].get("Properties", {})
        default = self.cloud.template.get("Globals", {}).get("Function", {}).get("Timeout", 3)
        return timedelta(seconds=int(props.get("Timeout", default)))


@contextmanager
def scheduler_source() -> Iterator[None]:
    """Calls made in this block are EventBridge Scheduler's (starting a schedule's target)."""
    _tls.scheduler = True
    try:
        yield
    finally:
        _tls.scheduler = False


def _current() -> Faults | None:
    return _active[-1] if _active else None


def _source() -> tuple[str, str | None]:
    inv: _Invocation | None = getattr(_tls, "invocation", None)
    if inv is not None:
        return "function", inv.function
    if getattr(_tls, "scheduler", False):
        return "scheduler", None
    from localcloud.virtual_time import CountedThread

    if isinstance(threading.current_thread(), CountedThread):
        return "statemachine", None
    return "harness", None


# --- botocore hooks ---------------------------------------------------------------------
def _provide_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["fault_params"] = params


def _before_call(model: Any, context: dict[str, Any], **_: Any) -> Any:
    """Once per API call (before the SDK's attempts): count it against the invocation,
    stop it if its time is up, meet the other concurrent invocations if asked to."""
    faults = _current()
    source, function = _source()
    service = model.service_model.service_name
    call = _Call(
        service,
        model.name,
        context.get("fault_params") or {},
        source,
        function,
        model.service_model.protocol,
    )
    _tls.call = call
    inv: _Invocation | None = getattr(_tls, "invocation", None)
    if faults is None or inv is None:
        return None
    inv.calls += 1
    faults._check_timeout(call, inv)
    if inv.barrier is not None and inv.meet_at in ((service, model.name), (service, "*")):
        barrier, inv.barrier = inv.barrier, None
        with suppress(threading.BrokenBarrierError):  # one never got here: the others go on
            barrier.wait(timeout=10)
            with faults._lock:
                faults.meetings += 1
    if service == "lambda":  # Invoke is answered in process (never reaches moto): fault here
        error = faults.error_for(call)
        if error is not None:
            code, status, message, _extra = error
            from botocore.awsrequest import AWSResponse

            meta = {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())}
            parsed = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": meta}
            return AWSResponse("local", status, {}, None), parsed
    return None


def _after_call(http_response: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
    faults = _current()
    if faults is None or http_response is None or http_response.status_code >= 300:
        return
    source, function = _source()
    call = _Call(
        model.service_model.service_name,
        model.name,
        context.get("fault_params") or {},
        source,
        function,
    )
    if source != "harness" and faults._crash_for(call):
        raise Crash(
            "Runtime.ExitError", f"the runtime exited after {call.service}.{call.operation}"
        )


def _intercept(original: Callable[..., Any], stubber: Any, event_name: str, request: Any) -> Any:
    """moto's request handler: an injected error answers instead of moto; otherwise moto
    answers, one request at a time."""
    faults = _current()
    if faults is None or not stubber.enabled:
        return original(stubber, event_name, request)
    call: _Call | None = getattr(_tls, "call", None)
    parts = event_name.split(".")
    service = _SERVICE_IDS.get(parts[1], parts[1]) if len(parts) > 2 else ""
    if call is not None and call.service != service:
        call = None  # not the call this thread announced (moto calling itself)
    inv: _Invocation | None = getattr(_tls, "invocation", None)
    if inv is not None:
        inv.elapsed += faults.latency
    if call is not None and call.source != "harness":
        error = faults.error_for(call)
        if error is not None:
            return _error_response(request, call, *error)
    with faults.moto_lock:
        return original(stubber, event_name, request)


def _error_response(
    request: Any, call: _Call, code: str, status: int, message: str, extra: dict[str, Any]
) -> Any:
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id}
    if call.protocol in ("query", "ec2"):
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        )
    elif call.protocol == "rest-xml":
        fields = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message>{fields}<RequestId>{request_id}</RequestId></Error>"
        )
    else:  # json, rest-json
        headers["x-amzn-ErrorType"] = code
        headers["Content-Type"] = "application/x-amz-json-1.0"
        body = json.dumps({"__type": code, "message": message, **extra})
    return AWSResponse(request.url, status, headers, MockRawResponse(body.encode()))


def _sleep_virtually(seconds: float) -> None:
    """The SDK's back-off between attempts: charged to the invocation, not waited."""
    inv: _Invocation | None = getattr(_tls, "invocation", None)
    if inv is not None:
        inv.elapsed += timedelta(seconds=seconds)


def _patch_once() -> None:
    import botocore.endpoint
    from botocore.retries import bucket
    from moto.core.botocore_stubber import BotocoreStubber

    if getattr(BotocoreStubber, "_nurture_faults", False):
        return
    original = BotocoreStubber.__call__

    def call(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        return _intercept(original, self, event_name, request)

    BotocoreStubber.__call__ = call  # type: ignore[method-assign]
    BotocoreStubber._nurture_faults = True  # type: ignore[attr-defined]

    real_time = botocore.endpoint.time

    class _Time:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            if _current() is not None:
                _sleep_virtually(seconds)
            else:
                real_time.sleep(seconds)

    botocore.endpoint.time = _Time()  # type: ignore[assignment]
    real_acquire = bucket.TokenBucket.acquire

    def acquire(self: Any, amount: int = 1, block: bool = True) -> bool:
        if _current() is not None:  # the adaptive mode's rate limiter: no real waiting
            return True
        return bool(real_acquire(self, amount, block))

    bucket.TokenBucket.acquire = acquire  # type: ignore[method-assign]
    _patch_lambda_tasks()
    install_task_callback_guard()


def _patch_lambda_tasks() -> None:
    """A Step Functions Lambda task the faults refuse fails as AWS's does, with
    `Lambda.TooManyRequestsException` (what the compiled Retry catches)."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils._invoke_lambda_function

    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> Any:
        faults = _current()
        if faults is not None:
            name = str(parameters.get("FunctionName", ""))
            try:
                logical = faults.cloud.function_by_name(name).logical_id
            except KeyError:
                logical = name
            if faults._invocation_refused(logical, "statemachine"):
                raise ClientError(
                    {
                        "Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."},
                        "ResponseMetadata": {
                            "HTTPStatusCode": 429,
                            "RequestId": str(uuid.uuid4()),
                        },
                    },
                    "Invoke",
                )
        return original(parameters, region, state_credentials)

    lambda_eval_utils._invoke_lambda_function = invoke  # type: ignore[assignment]


def install(cloud: LocalCloud) -> Faults:
    """Hook the faults into every client made from the cloud's session from now on (the
    functions' clients are made when they load, after this)."""
    _patch_once()
    faults: Faults = cloud.faults
    _active.clear()
    _active.append(faults)
    events = cloud._session.events
    events.register("provide-client-params", _provide_params)
    events.register("before-call", _before_call)
    events.register_first("before-call.lambda.Invoke", _before_call)
    events.register("after-call", _after_call)
    dynamo_bridge.install(events)  # last on before-call: after the hook above
    return faults


def uninstall(cloud: LocalCloud) -> None:
    if _active and _active[-1] is cloud.faults:
        _active.clear()
