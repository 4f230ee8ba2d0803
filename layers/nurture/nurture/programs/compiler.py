"""Compile a program to Amazon States Language.

Every step becomes one state named after its id, so the Step Functions console shows the
marketer's own program as a graph. Step actions run in the steps function; waits are
native `Wait` states; "wait for an event" is `.waitForTaskToken` with `TimeoutSeconds`,
whose timeout is the "did not happen" path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nurture.programs.durations import parse_duration
from nurture.programs.model import End, Program, SendEmail, SendSms, Step, Wait, WaitForEvent

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
# Transient Lambda errors AWS recommends retrying; the steps function is idempotent per step.
LAMBDA_RETRY = [{
    "ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                    "Lambda.SdkClientException", "Lambda.TooManyRequestsException"],
    "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2.0,
}]


@dataclass
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class Compiled:
    definition: dict[str, Any]
    transitions_per_run: dict[str, int] = field(default_factory=dict)


def event_key(program_id: str, step: WaitForEvent) -> str:
    """The key a waiting step is stored under and an incoming activity is matched by."""
    if step.email:
        return f"{step.event}:{program_id}:{step.email}"
    return f"track:{step.event}"


def _next_ids(steps: list[Step]) -> dict[str, str | None]:
    """Where each step goes when it does not branch: `next`, else the following step."""
    following: dict[str, str | None] = {}
    for index, step in enumerate(steps):
        default = steps[index + 1].id if index + 1 < len(steps) else None
        following[step.id] = step.next or default
    return following


def check_program(program: Program) -> list[Problem]:
    problems: list[Problem] = []
    ids = [s.id for s in program.steps]
    seen: set[str] = set()
    for index, step in enumerate(program.steps):
        where = f"steps[{index}] ({step.id})"
        if step.id in seen:
            problems.append(Problem(where, f"step id {step.id!r} is used twice"))
        seen.add(step.id)
        targets = {"next": step.next}
        if isinstance(step, WaitForEvent):
            targets.update(on_event=step.on_event, on_timeout=step.on_timeout)
            if step.event.startswith("email.") and not step.email:
                problems.append(Problem(where, f"'{step.event}' needs `email`: the send_email step it refers to"))
            if step.email and not any(isinstance(s, SendEmail) and s.id == step.email for s in program.steps):
                problems.append(Problem(f"{where}.email", f"{step.email!r} is not a send_email step of this program"))
        for name, target in targets.items():
            if target is not None and target not in ids:
                problems.append(Problem(f"{where}.{name}", f"goes to {target!r}, which is not a step of this program"))
    return problems


def step_params(step: Step) -> dict[str, object]:
    """What the steps function receives as `params`: the step's own fields."""
    return step.model_dump(mode="json", exclude={"id", "type", "next"})


def _invoke(action: str, program: Program, step: Step, steps_arn: str, params: dict[str, Any],
            with_token: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action": action,
        "program_id": program.id,
        "step_id": step.id,
        "contact_id.$": "$.contact_id",
        "execution.$": "$$.Execution.Name",
        "params": params,
    }
    if with_token:
        payload["task_token.$"] = "$$.Task.Token"
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE + (".waitForTaskToken" if with_token else ""),
        "Parameters": {"FunctionName": steps_arn, "Payload": payload},
        "Retry": LAMBDA_RETRY,
    }


def compile_program(program: Program, steps_arn: str) -> Compiled:
    problems = check_program(program)
    if problems:
        raise ValueError("; ".join(map(str, problems)))
    following = _next_ids(program.steps)
    states: dict[str, Any] = {}

    def go(state: dict[str, Any], target: str | None) -> dict[str, Any]:
        if target is None:
            state["End"] = True
        else:
            state["Next"] = target
        return state

    for step in program.steps:
        nxt = following[step.id]
        if isinstance(step, (SendEmail, SendSms)):
            # A send may be deferred (quiet hours, frequency cap): the steps function answers
            # {"status": "deferred", "retry_at": ISO time}; we wait until then and try again.
            check, later = f"{step.id}: deferred?", f"{step.id}: wait for send window"
            state = _invoke(step.type, program, step, steps_arn, step_params(step))
            state["ResultSelector"] = {"status.$": "$.Payload.status", "retry_at.$": "$.Payload.retry_at"}
            state["ResultPath"] = "$.last"
            states[step.id] = go(state, check)
            states[check] = go({"Type": "Choice", "Choices": [
                {"Variable": "$.last.status", "StringEquals": "deferred", "Next": later}]}, None)
            states[check].pop("End")
            states[check]["Default"] = nxt if nxt else f"{step.id}: done"
            if nxt is None:
                states[f"{step.id}: done"] = {"Type": "Succeed"}
            states[later] = {"Type": "Wait", "TimestampPath": "$.last.retry_at", "Next": step.id}
        elif isinstance(step, Wait):
            states[step.id] = go({"Type": "Wait", "Seconds": parse_duration(step.duration)}, nxt)
        elif isinstance(step, WaitForEvent):
            happened, passed = f"{step.id}: happened", f"{step.id}: deadline passed"
            state = _invoke("wait_for_event", program, step, steps_arn,
                            {"event_key": event_key(program.id, step),
                             "timeout_seconds": parse_duration(step.timeout)}, with_token=True)
            state["TimeoutSeconds"] = parse_duration(step.timeout)
            state["ResultPath"] = "$.last"
            state["Catch"] = [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.last", "Next": passed}]
            states[step.id] = go(state, happened)
            # Named pass states make the branch taken visible in the execution history.
            states[happened] = {"Type": "Pass", "Next": step.on_event}
            states[passed] = {"Type": "Pass", "Next": step.on_timeout}
        elif isinstance(step, End):
            states[step.id] = {"Type": "Succeed"}
    definition = {
        "Comment": f"Nurture program {program.id}: {program.name}",
        "StartAt": program.steps[0].id,
        "States": states,
    }
    return Compiled(definition=definition, transitions_per_run=_transitions(program))


def _transitions(program: Program) -> dict[str, int]:
    """State transitions of the shortest and longest path (Standard workflows bill per transition)."""
    following = _next_ids(program.steps)
    by_id = {s.id: s for s in program.steps}

    def walk(step_id: str | None, seen: frozenset[str]) -> tuple[int, int]:
        if step_id is None or step_id in seen:
            return (0, 0)
        step = by_id[step_id]
        seen = seen | {step_id}
        if isinstance(step, End):
            return (1, 1)
        if isinstance(step, WaitForEvent):
            a = walk(step.on_event, seen)
            b = walk(step.on_timeout, seen)
            return (2 + min(a[0], b[0]), 2 + max(a[1], b[1]))
        rest = walk(following[step_id], seen)
        cost = 2 if isinstance(step, (SendEmail, SendSms)) else 1  # task + deferral check
        return (cost + rest[0], cost + rest[1])

    low, high = walk(program.steps[0].id, frozenset())
    return {"min": low, "max": high}
