"""An interpreter of the Amazon States Language our compiler emits, on a virtual-time queue.

It runs the compiled JSON itself (nurture.programs.compiler's CONTRACT), not the program:
Task (`lambda:invoke` and `lambda:invoke.waitForTaskToken`, with Parameters, ResultSelector,
ResultPath, TimeoutSeconds, Retry, Catch), Wait (Seconds, TimestampPath), Choice (And, Or,
Not; IsPresent, IsNull, StringEquals, NumericEquals, BooleanEquals), Pass, Succeed and Fail,
as Step Functions documents them. JSONPath is jsonpath-ng's; a definition that uses anything
else is refused with the construct named, so a compiler change cannot be simulated wrongly
in silence (the differential test against the local cloud's interpreter catches the rest).

Billing: every state entered is one state transition (Standard workflows).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from jsonpath_ng import parse as jsonpath_parse

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
WAIT_FOR_TOKEN = LAMBDA_INVOKE + ".waitForTaskToken"
_COMPARISONS = ("IsPresent", "IsNull", "StringEquals", "NumericEquals", "BooleanEquals")


class Unsupported(ValueError):
    """The definition uses ASL this interpreter does not implement."""


class TaskError(Exception):
    """A task's failure as Step Functions names it: error and cause."""

    def __init__(self, error: str, cause: str = ""):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class Host(Protocol):
    """What the interpreter needs from the engine."""

    def now(self) -> datetime: ...

    def at(self, moment: datetime, job: Callable[[], None]) -> None: ...

    def invoke(self, function: str, payload: Any) -> Any: ...

    def ended(self, execution: Execution) -> None: ...


@lru_cache(maxsize=4096)
def _path(text: str) -> Any:
    return jsonpath_parse(text)


def read_path(data: Any, text: str, context: dict[str, Any] | None = None) -> list[Any]:
    """The values at a JSONPath ("$$." paths read the context object)."""
    if text.startswith("$$"):
        return read_path(context or {}, text[1:])
    if text == "$":
        return [data]
    return [match.value for match in _path(text).find(data)]


def one(data: Any, text: str, context: dict[str, Any] | None = None) -> Any:
    found = read_path(data, text, context)
    if not found:
        raise TaskError("States.Runtime", f"the JSONPath {text!r} matched nothing")
    return found[0]


def write_path(data: Any, text: str | None, value: Any) -> Any:
    """ResultPath: `value` put into `data` at `text` ("$": replaces; null: discards)."""
    if text is None:
        return data
    if text == "$":
        return value
    target = dict(data) if isinstance(data, dict) else {}
    _path(text).update_or_create(target, value)
    return target


def fill(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """Parameters / ResultSelector: keys ending in ".$" take the value at their path; the
    rest is copied (fresh containers: nothing is shared with the definition)."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise Unsupported(f"{key}: a path must be a string")
                if value.startswith("States."):
                    raise Unsupported(
                        f"intrinsic functions are not emitted by the compiler: {value}"
                    )
                out[key[:-2]] = one(data, value, context)
            else:
                out[key] = fill(value, data, context)
        return out
    if isinstance(template, list):
        return [fill(v, data, context) for v in template]
    return template


def _compare(rule: dict[str, Any], data: Any) -> bool:
    if "And" in rule:
        return all(_compare(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(_compare(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not _compare(rule["Not"], data)
    found = read_path(data, rule["Variable"])
    operator = next((op for op in _COMPARISONS if op in rule), None)
    if operator is None:
        raise Unsupported(f"Choice comparison not emitted by the compiler: {sorted(rule)}")
    if operator == "IsPresent":
        return bool(found) == bool(rule["IsPresent"])
    if not found:
        raise TaskError("States.Runtime", f"Invalid path {rule['Variable']!r}: no value")
    value = found[0]
    if operator == "IsNull":
        return (value is None) == bool(rule["IsNull"])
    expected = rule[operator]
    if operator == "StringEquals":
        return isinstance(value, str) and value == expected
    if operator == "BooleanEquals":
        return isinstance(value, bool) and value == expected
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == expected


def _matches(names: list[str], error: str) -> bool:
    if error in names or "States.ALL" in names:
        return True
    return "States.TaskFailed" in names and error != "States.Timeout"


def _timestamp(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise TaskError("States.Runtime", f"{value!r} is not a timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Execution:
    arn: str
    name: str
    machine_arn: str  # what was started (the alias or version ARN)
    definition: dict[str, Any]
    input: dict[str, Any]
    started_at: datetime
    status: str = "RUNNING"  # SUCCEEDED | FAILED | ABORTED | TIMED_OUT
    output: Any = None
    error: str | None = None
    cause: str | None = None
    stopped_at: datetime | None = None
    transitions: int = 0
    states_entered: list[str] = field(default_factory=list)
    # the task now waiting for its token: (token, state name, the state's input)
    waiting: tuple[str, str, Any] | None = None
    retries: dict[tuple[str, int], int] = field(default_factory=dict)
    _tokens: int = 0


class Interpreter:
    """Runs executions on the host's queue: each step goes as far as it can at one moment."""

    def __init__(self, host: Host, record_states: bool = False) -> None:
        self.host = host
        self.executions: dict[str, Execution] = {}
        self.tokens: dict[str, Execution] = {}
        self.record_states = record_states

    # --- control ---------------------------------------------------------------------
    def start(
        self, machine_arn: str, arn: str, name: str, definition: dict[str, Any], data: Any
    ) -> Execution:
        run = Execution(arn, name, machine_arn, definition, data, self.host.now())
        self.executions[arn] = run
        start = definition["StartAt"]
        self.host.at(run.started_at, lambda: self._enter(run, start, data))
        return run

    def stop(self, run: Execution, error: str | None, cause: str | None) -> bool:
        if run.status != "RUNNING":
            return False
        self._end(run, "ABORTED", None, error, cause)
        return True

    def succeed_task(self, token: str, output: Any) -> bool:
        run = self.tokens.get(token)
        if run is None or run.waiting is None or run.waiting[0] != token:
            return False
        _, name, data = run.waiting
        run.waiting = None
        del self.tokens[token]
        state = run.definition["States"][name]
        self.host.at(self.host.now(), lambda: self._task_done(run, name, state, data, output))
        return True

    def fail_task(self, token: str, error: str, cause: str) -> bool:
        run = self.tokens.get(token)
        if run is None or run.waiting is None or run.waiting[0] != token:
            return False
        _, name, data = run.waiting
        run.waiting = None
        del self.tokens[token]
        state = run.definition["States"][name]
        failure = TaskError(error, cause)
        self.host.at(self.host.now(), lambda: self._task_failed(run, name, state, data, failure))
        return True

    # --- states ----------------------------------------------------------------------
    def _enter(self, run: Execution, name: str, data: Any) -> None:
        if run.status != "RUNNING":
            return
        state = run.definition["States"][name]
        run.transitions += 1
        if self.record_states:
            run.states_entered.append(name)
        kind = state["Type"]
        try:
            if kind == "Task":
                self._task(run, name, state, data)
            elif kind == "Pass":
                if any(k in state for k in ("Parameters", "Result", "ResultPath", "InputPath")):
                    raise Unsupported(f"Pass state {name!r}: only Next/End are emitted")
                self._next(run, state, data)
            elif kind == "Wait":
                if "Seconds" in state:
                    until = self.host.now() + timedelta(seconds=int(state["Seconds"]))
                elif "TimestampPath" in state:
                    until = _timestamp(one(data, state["TimestampPath"]))
                elif "Timestamp" in state:
                    until = _timestamp(state["Timestamp"])
                else:
                    raise Unsupported(f"Wait state {name!r}: no Seconds or Timestamp(Path)")
                until = max(until, self.host.now())
                self.host.at(until, lambda: self._next(run, state, data))
            elif kind == "Choice":
                target = next(
                    (r["Next"] for r in state["Choices"] if _compare(r, data)),
                    state.get("Default"),
                )
                if target is None:
                    raise TaskError("States.NoChoiceMatched", f"no rule of {name!r} matched")
                self._enter(run, target, data)
            elif kind == "Succeed":
                self._end(run, "SUCCEEDED", data)
            elif kind == "Fail":
                self._end(run, "FAILED", None, state.get("Error"), state.get("Cause"))
            else:
                raise Unsupported(f"state type {kind!r} is not emitted by the compiler")
        except TaskError as exc:
            self._end(run, "FAILED", None, exc.error, exc.cause)

    def _next(self, run: Execution, state: dict[str, Any], data: Any) -> None:
        if run.status != "RUNNING":
            return
        if state.get("End"):
            self._end(run, "SUCCEEDED", data)
        else:
            self._enter(run, state["Next"], data)

    def _context(self, run: Execution, token: str | None) -> dict[str, Any]:
        context: dict[str, Any] = {
            "Execution": {
                "Id": run.arn,
                "Name": run.name,
                "Input": run.input,
                "StartTime": run.started_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            },
            "StateMachine": {"Id": run.machine_arn},
        }
        if token is not None:
            context["Task"] = {"Token": token}
        return context

    def _task(self, run: Execution, name: str, state: dict[str, Any], data: Any) -> None:
        resource = state["Resource"]
        if resource not in (LAMBDA_INVOKE, WAIT_FOR_TOKEN):
            raise Unsupported(f"Task resource {resource!r} is not emitted by the compiler")
        token = None
        if resource == WAIT_FOR_TOKEN:
            run._tokens += 1
            token = f"{run.arn}#{run._tokens}"
        parameters = fill(state.get("Parameters", {}), data, self._context(run, token))
        if token is not None:
            run.waiting = (token, name, data)
            self.tokens[token] = run
            if "TimeoutSeconds" in state:
                due = self.host.now() + timedelta(seconds=int(state["TimeoutSeconds"]))
                self.host.at(due, lambda: self._timed_out(run, token))
        try:
            answer = self.host.invoke(parameters["FunctionName"], parameters.get("Payload"))
        except TaskError as failure:
            if token is not None:
                if run.waiting is None or run.waiting[0] != token:
                    return  # the token was completed before the function failed
                run.waiting = None
                self.tokens.pop(token, None)
            self._task_failed(run, name, state, data, failure)
            return
        if token is None:
            result = {"ExecutedVersion": "$LATEST", "Payload": answer, "StatusCode": 200}
            self._task_done(run, name, state, data, result)

    def _timed_out(self, run: Execution, token: str) -> None:
        if run.waiting is not None and run.waiting[0] == token:
            self.fail_task(token, "States.Timeout", "")

    def _task_done(
        self, run: Execution, name: str, state: dict[str, Any], data: Any, result: Any
    ) -> None:
        if run.status != "RUNNING":
            return
        if "ResultSelector" in state:
            result = fill(state["ResultSelector"], result, self._context(run, None))
        output = write_path(data, state.get("ResultPath", "$"), result)
        self._next(run, state, output)

    def _task_failed(
        self, run: Execution, name: str, state: dict[str, Any], data: Any, failure: TaskError
    ) -> None:
        if run.status != "RUNNING":
            return
        for number, retrier in enumerate(state.get("Retry", [])):
            if not _matches(retrier["ErrorEquals"], failure.error):
                continue
            tried = run.retries.get((name, number), 0)
            if tried < int(retrier.get("MaxAttempts", 3)):
                run.retries[(name, number)] = tried + 1
                delay = (
                    float(retrier.get("IntervalSeconds", 1))
                    * float(retrier.get("BackoffRate", 2.0)) ** tried
                )
                again = self.host.now() + timedelta(seconds=delay)
                self.host.at(again, lambda: self._retry(run, name, state, data))
                return
            break  # the first matching retrier is the one; it is used up
        for catcher in state.get("Catch", []):
            if _matches(catcher["ErrorEquals"], failure.error):
                caught = {"Error": failure.error, "Cause": failure.cause}
                self._enter(
                    run, catcher["Next"], write_path(data, catcher.get("ResultPath", "$"), caught)
                )
                return
        self._end(run, "FAILED", None, failure.error, failure.cause)

    def _retry(self, run: Execution, name: str, state: dict[str, Any], data: Any) -> None:
        if run.status == "RUNNING":
            self._task(run, name, state, data)  # a retry is not a new state entered

    def _end(
        self,
        run: Execution,
        status: str,
        output: Any,
        error: str | None = None,
        cause: str | None = None,
    ) -> None:
        run.status, run.output, run.error, run.cause = status, output, error, cause
        run.stopped_at = self.host.now()
        if run.waiting is not None:
            self.tokens.pop(run.waiting[0], None)
            run.waiting = None
        self.host.ended(run)


def error_of(exc: BaseException) -> TaskError:
    """A Lambda function's exception as the Task sees it: the type's name, and a cause
    holding Lambda's error JSON."""
    name = type(exc).__name__
    return TaskError(name, json.dumps({"errorMessage": str(exc), "errorType": name}))
