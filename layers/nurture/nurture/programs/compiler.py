"""Compile a program to Amazon States Language.

Every step becomes one state named after its id, so the Step Functions console shows the
marketer's own program as a graph. Helper states are named "<step id>: <what>".

THE CONTRACT with the steps function (runtime side). Keep it; extend only additively.

* Every action step is a Task `arn:aws:states:::lambda:invoke` on the steps function with
  Payload {"action": <step type>, "program_id", "step_id", "contact_id.$": "$.contact_id",
  "execution.$": "$$.Execution.Name", "params": <the step's own fields>} where params is
  `step_params(step)` = step.model_dump(mode="json", by_alias=True, exclude={"id","type","next"})
  (conditions dump only the operators written; rebuild the step with
  `nurture.programs.model.step_from_params(action, step_id, params)`).
  `.waitForTaskToken` steps add "task_token.$": "$$.Task.Token".
* The Lambda's returned dict lands at `$.last.Payload` (ResultSelector {"Payload.$":
  "$.Payload"}, ResultPath $.last). Every key the compiler reads is optional (IsPresent
  guards), so an action may return only what it has to say:
  - any step: {"status": "stop"} ends the run (Choice -> Succeed "<id>: stopped");
  - send_email / send_sms: {"status": "deferred", "retry_at": ISO} -> Wait until then, retry;
  - branch / split: {"next": "<step id>"} -> Choice over the declared targets (an unknown
    target fails the run with error "Nurture.BadBranch");
  - wait_until: {"wait_until": ISO 8601 UTC} -> Wait TimestampPath; when the moment is too
    far for this execution the action adds "far": true and the compiler resumes through a
    one-time schedule instead (see long waits); no "wait_until" -> go on at once;
  - webhook: raise an error whose type is "WebhookRetryable" for retryable failures
    (5xx, timeouts): retried with backoff; any other error, or the last retry, goes to
    `on_failure` (default: the next step) with the error at $.webhook_error.
* wait_for_event: params {"event_key", "timeout_seconds", "event", "email", "where"};
  the task token resumes it; States.Timeout is the "deadline passed" path.
* Long waits: a `wait` longer than LONG_WAIT_SECONDS, or the one `wait` that closes a loop,
  compiles to the `schedule_resume` action with params {"resume_at": <next step id>,
  "delay_seconds": N} or {"resume_at", "at.$": <path of an ISO time>}, plus "trigger.$" and
  "execution_arn.$": "$$.Execution.Id". The action creates an EventBridge Scheduler one-time
  schedule that starts a new execution with input {contact_id, program_id, trigger,
  resume_at} and returns; the current execution then ends ("<id>: continues later").
* State machine input: {"contact_id", "program_id", "trigger": {...}} and optionally
  "resume_at": "<step id>". Every machine starts with the Choice "resume?" that jumps to
  the named step (only steps that follow a long wait are resumable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nurture.programs.durations import parse_duration
from nurture.programs.model import End, Program, SendEmail, SendSms, Step, Wait, WaitForEvent

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
# Transient Lambda errors AWS recommends retrying; the steps function is idempotent per step.
LAMBDA_RETRY = [
    {
        "ErrorEquals": [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ],
        "IntervalSeconds": 2,
        "MaxAttempts": 6,
        "BackoffRate": 2.0,
    }
]


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
                problems.append(
                    Problem(
                        where, f"'{step.event}' needs `email`: the send_email step it refers to"
                    )
                )
            if step.email and not any(
                isinstance(s, SendEmail) and s.id == step.email for s in program.steps
            ):
                problems.append(
                    Problem(
                        f"{where}.email", f"{step.email!r} is not a send_email step of this program"
                    )
                )
        for name, target in targets.items():
            if target is not None and target not in ids:
                problems.append(
                    Problem(
                        f"{where}.{name}",
                        f"goes to {target!r}, which is not a step of this program",
                    )
                )
    return problems


def step_params(step: Step) -> dict[str, object]:
    """What the steps function receives as `params`: the step's own fields."""
    return step.model_dump(mode="json", by_alias=True, exclude={"id", "type", "next"})


def _invoke(
    action: str,
    program: Program,
    step: Step,
    steps_arn: str,
    params: dict[str, Any],
    with_token: bool = False,
) -> dict[str, Any]:
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
            state["ResultSelector"] = {
                "status.$": "$.Payload.status",
                "retry_at.$": "$.Payload.retry_at",
            }
            state["ResultPath"] = "$.last"
            states[step.id] = go(state, check)
            states[check] = go(
                {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.last.status", "StringEquals": "deferred", "Next": later}
                    ],
                },
                None,
            )
            states[check].pop("End")
            states[check]["Default"] = nxt if nxt else f"{step.id}: done"
            if nxt is None:
                states[f"{step.id}: done"] = {"Type": "Succeed"}
            states[later] = {"Type": "Wait", "TimestampPath": "$.last.retry_at", "Next": step.id}
        elif isinstance(step, Wait):
            states[step.id] = go({"Type": "Wait", "Seconds": parse_duration(step.duration)}, nxt)
        elif isinstance(step, WaitForEvent):
            happened, passed = f"{step.id}: happened", f"{step.id}: deadline passed"
            state = _invoke(
                "wait_for_event",
                program,
                step,
                steps_arn,
                {
                    "event_key": event_key(program.id, step),
                    "timeout_seconds": parse_duration(step.timeout),
                },
                with_token=True,
            )
            state["TimeoutSeconds"] = parse_duration(step.timeout)
            state["ResultPath"] = "$.last"
            state["Catch"] = [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.last", "Next": passed}
            ]
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
