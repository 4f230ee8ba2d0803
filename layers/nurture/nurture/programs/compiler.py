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
* Task-token steps (`.waitForTaskToken`): send_email, send_sms, wait_until and
  wait_for_event add "task_token.$": "$$.Task.Token"; their result lands at `$.last` as the
  runtime completes the token. Control flow that is not the normal path travels as the
  token's failure, so the normal path has no Choice after these steps:
  - send_email / send_sms: SendTaskSuccess(result) goes on; a deferral (quiet hours,
    frequency cap) is SendTaskFailure(error "Nurture.Deferred", cause = retry_at, ISO UTC)
    -> Catch -> Wait "<id>: wait for send window" (TimestampPath $.deferral.Cause) -> the
    send again.
  - wait_until: the runtime completes the token at the moment (a one-time schedule, or at
    once when it has passed); error "Nurture.Stop" (no date to wait for) -> "<id>: stopped";
    error "Nurture.ResumeLater" (cause = the moment, ISO UTC: too far for this execution,
    or the step closes a loop; the payload then says "resume_by_schedule": true) -> the
    `schedule_resume` Task (see long waits). A task that hears nothing for
    LONG_WAIT_SECONDS + 1 day goes on (States.Timeout), so a lost wake-up cannot hang a run.
  - wait_for_event: params {"event_key", "timeout_seconds", "event", "email", "where"};
    SendTaskSuccess -> `on_event`; States.Timeout (the deadline) -> `on_timeout`.
  Without a task token (machines compiled before this contract) these actions answer as
  plain invokes did: send {"status": "deferred", "retry_at"}, wait_until {"wait_until",
  "far"?, "status": "stop"?}.
* Plain invokes return a dict the Task puts at `$.last.Payload` (ResultSelector
  {"Payload.$": "$.Payload"}, ResultPath $.last):
  - branch / split: {"next": "<step id>"} -> the Choice "<id>: which?" goes straight to the
    target (splits through a named "<id>: variant ..." Pass); an unknown target fails the
    run with error "Nurture.BadBranch"; {"status": "stop"} ends the run;
  - webhook: raise an error whose type is "WebhookRetryable" for retryable failures
    (5xx, timeouts): retried with backoff; any other error, or the last retry, goes to
    `on_failure` (default: the next step) with the error at $.webhook_error;
  - update_contact, score, notify_sales, create_task, start_program: the result is kept,
    the run goes on (these never stop a run).
* The last step of a path ends the execution itself ("End": true) where it can; Choices
  and Catches that end go to "Finished".
* Long waits: a `wait` longer than LONG_WAIT_SECONDS, or the one `wait` that closes a loop,
  compiles to the `schedule_resume` action with params {"resume_at": <next step id>,
  "delay_seconds": N} or {"resume_at", "at.$": <path of an ISO time>}, plus "state.$": "$"
  and "execution_arn.$": "$$.Execution.Id", and "resume_arn" when the program has a resume
  machine (nurture/runtime/actions_schedule.py). The action creates an EventBridge Scheduler
  one-time schedule that starts a new execution with input {contact_id, program_id,
  trigger, resume_at, run} (run: the first execution's name, the same across resumes) and
  returns {"status": "scheduled", ...}; the Task ends the execution.
* State machine input: {"contact_id", "program_id", "trigger": {...}} and, for a resumed
  run, "resume_at": "<step id>". A fresh run starts at the first step. Resumed runs enter
  through the Choice "resume?" that jumps to the named step (only steps that follow a long
  wait are resumable): `compile_program(..., resume_arn=ARN)` gives the program machine
  (StartAt: first step; its schedules target ARN) and `Compiled.resume_definition`, the
  same states entered through "resume?", which the deploy publishes first as the resume
  machine `<program>_resume` (RESUME_SUFFIX). Without `resume_arn`, a program with resume
  points compiles to one machine that starts with "resume?" (costs one transition a run).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from nurture.programs.checks import (
    DAY,
    LONG_WAIT_SECONDS,
    RUN_BUDGET_SECONDS,
    Problem,
    check_program,
    edges,
    following_steps,
    resume_points,
)
from nurture.programs.durations import parse_duration
from nurture.programs.model import (
    Branch,
    End,
    Program,
    SendEmail,
    SendSms,
    Split,
    Wait,
    WaitForEvent,
    WaitUntil,
    Webhook,
)
from nurture.tracking import names

# Re-exported: the runtime and the tests import these from here.
__all__ = [
    "DAY",
    "LONG_WAIT_SECONDS",
    "RUN_BUDGET_SECONDS",
    "Compiled",
    "Problem",
    "check_program",
    "compile_program",
    "edges",
    "event_key",
    "following_steps",
    "resume_points",
    "step_params",
]

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
    },
    # The function died (timeout, crash) or an AWS call failed past the SDK's own retries
    # (throttling, a transaction conflict, a 5xx): the step is idempotent, so run it again.
    {
        "ErrorEquals": [
            "Sandbox.Timedout",
            "Runtime.ExitError",
            "Lambda.Unknown",
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "TransactionCanceledException",
            "TransactionConflictException",
            "InternalServerError",
            "ClientError",
        ],
        "IntervalSeconds": 2,
        "MaxAttempts": 5,
        "BackoffRate": 2.0,
    },
]
# A webhook's retryable failures (5xx, timeouts): 1, 2, 4, 8, 16 minutes.
WEBHOOK_RETRY = {
    "ErrorEquals": ["WebhookRetryable"],
    "IntervalSeconds": 60,
    "MaxAttempts": 5,
    "BackoffRate": 2.0,
}
RESUME_CHOICE = "resume?"
RESUME_UNKNOWN = "resume: unknown step"
# The resume machine of program <id> is named <id>_resume ('_' never appears in a program id).
RESUME_SUFFIX = "_resume"
FINISHED = "Finished"
STOPPED = "Stopped"
# Errors a task-token step's runtime fails the token with (see the CONTRACT).
DEFERRED_ERROR = "Nurture.Deferred"
STOP_ERROR = "Nurture.Stop"
RESUME_LATER_ERROR = "Nurture.ResumeLater"
TOKEN_ACTIONS = frozenset({"send_email", "send_sms", "wait_until", "wait_for_event"})
# Step Functions limits a state name to 80 characters.
MAX_STATE_NAME = 80


@dataclass
class Compiled:
    definition: dict[str, Any]
    transitions_per_run: dict[str, Any] = field(default_factory=dict)
    resume_points: list[str] = field(default_factory=list)
    # The same states entered through "resume?" (None: the program has no resume points,
    # or `definition` itself starts with "resume?" because no resume_arn was given).
    resume_definition: dict[str, Any] | None = None


def event_key(program_id: str, step: WaitForEvent) -> str:
    """The key a waiting step is stored under and an incoming activity is matched by:
    `<email event>:<program>:<send step>`, `page`, `form:<id>` or `track:<event>`."""
    if step.email:
        return f"{step.event}:{program_id}:{step.email}"
    if step.event in ("page", "screen") or step.event.startswith("form:"):
        return step.event
    return f"track:{names.event_key(step.event)}"


def step_params(step: Any) -> dict[str, Any]:
    """What the steps function receives as `params`: the step's own fields."""
    params: dict[str, Any] = step.model_dump(
        mode="json", by_alias=True, exclude={"id", "type", "next"}
    )
    return params


def _invoke(
    action: str,
    program: Program,
    step_id: str,
    steps_arn: str,
    params: dict[str, Any],
    with_token: bool = False,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action": action,
        "program_id": program.id,
        "step_id": step_id,
        "contact_id.$": "$.contact_id",
        "execution.$": "$$.Execution.Name",
        "params": params,
    }
    if with_token:
        payload["task_token.$"] = "$$.Task.Token"
        return {
            "Type": "Task",
            "Resource": LAMBDA_INVOKE + ".waitForTaskToken",
            "Parameters": {"FunctionName": steps_arn, "Payload": payload},
            "ResultPath": "$.last",
            "Retry": LAMBDA_RETRY,
        }
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": steps_arn, "Payload": payload},
        "ResultSelector": {"Payload.$": "$.Payload"},
        "ResultPath": "$.last",
        "Retry": LAMBDA_RETRY,
    }


def _is(path: str, comparison: str, value: Any, then: str) -> dict[str, Any]:
    """A Choice rule that holds only when `path` is present and compares true."""
    return {
        "And": [{"Variable": path, "IsPresent": True}, {"Variable": path, comparison: value}],
        "Next": then,
    }


def _go_on(state: dict[str, Any], target: str | None) -> dict[str, Any]:
    """`Next: target`, or end the execution here when the step is the last of its path."""
    if target is None:
        state["End"] = True
    else:
        state["Next"] = target
    return state


def compile_program(program: Program, steps_arn: str, resume_arn: str | None = None) -> Compiled:
    """The program's machine. With `resume_arn` (the published resume machine's version) a
    program with resume points compiles to two: `definition` starts at the first step and
    its long waits resume on `resume_arn`; `resume_definition` enters through "resume?"."""
    problems = check_program(program)
    if problems:
        raise ValueError("; ".join(map(str, problems)))
    following = following_steps(program)
    resumes = resume_points(program)
    states: dict[str, Any] = {}
    resumable: list[str] = []

    def then(target: str | None) -> str:
        return target if target is not None else FINISHED

    def stop_rule(step_id: str) -> dict[str, Any]:
        return _is("$.last.Payload.status", "StringEquals", "stop", stopped(step_id))

    def stopped(step_id: str) -> str:
        name = f"{step_id}: stopped"
        states[name] = {"Type": "Pass", "Next": STOPPED}
        return name

    def schedule(step_id: str, resume_at: str | None, when: dict[str, Any]) -> dict[str, Any]:
        """Task: make a one-time schedule that resumes at `resume_at`; then this run ends."""
        if resume_at is None:
            return {"Type": "Pass", "Next": FINISHED}
        resumable.append(resume_at)
        params = {
            "resume_at": resume_at,
            **when,
            "state.$": "$",
            "execution_arn.$": "$$.Execution.Id",
        }
        state = _invoke("schedule_resume", program, step_id, steps_arn, params)
        state["End"] = True
        return state

    for step in program.steps:
        nxt = following[step.id]
        sid = step.id
        if isinstance(step, (SendEmail, SendSms)):
            # A deferred send (quiet hours, frequency cap) fails its token with the moment
            # to try again; the normal path goes straight on.
            later = f"{sid}: wait for send window"
            state = _invoke(step.type, program, sid, steps_arn, step_params(step), True)
            state["Catch"] = [
                {"ErrorEquals": [DEFERRED_ERROR], "ResultPath": "$.deferral", "Next": later}
            ]
            states[sid] = _go_on(state, nxt)
            states[later] = {"Type": "Wait", "TimestampPath": "$.deferral.Cause", "Next": sid}
        elif isinstance(step, Wait):
            if resumes.get(sid):
                states[sid] = schedule(sid, nxt, {"delay_seconds": parse_duration(step.duration)})
            else:
                states[sid] = _go_on(
                    {"Type": "Wait", "Seconds": parse_duration(step.duration)}, nxt
                )
        elif isinstance(step, WaitUntil):
            far = f"{sid}: resume by schedule"
            state = _invoke("wait_until", program, sid, steps_arn, step_params(step), True)
            if resumes.get(sid):
                state["Parameters"]["Payload"]["resume_by_schedule"] = True
            state["TimeoutSeconds"] = LONG_WAIT_SECONDS + DAY
            state["Catch"] = [
                {"ErrorEquals": [STOP_ERROR], "ResultPath": "$.stop", "Next": stopped(sid)},
                {"ErrorEquals": [RESUME_LATER_ERROR], "ResultPath": "$.far", "Next": far},
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.last", "Next": then(nxt)},
            ]
            states[sid] = _go_on(state, nxt)
            states[far] = schedule(sid, nxt, {"at.$": "$.far.Cause"})
        elif isinstance(step, WaitForEvent):
            timeout = parse_duration(step.timeout)
            params = {
                "event_key": event_key(program.id, step),
                "timeout_seconds": timeout,
                "event": step.event,
                "email": step.email,
                "where": step_params(step)["where"],
            }
            state = _invoke("wait_for_event", program, sid, steps_arn, params, with_token=True)
            state["TimeoutSeconds"] = max(timeout, 1)
            # Which way it went shows in the history: TaskSucceeded or TaskTimedOut.
            state["Catch"] = [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.last", "Next": step.on_timeout}
            ]
            state["Next"] = step.on_event
            states[sid] = state
        elif isinstance(step, (Branch, Split)):
            which, bad = f"{sid}: which?", f"{sid}: unknown choice"
            state = _invoke(step.type, program, sid, steps_arn, step_params(step))
            state["Next"] = which
            states[sid] = state
            rules = [stop_rule(sid)]
            if isinstance(step, Branch):
                # The history shows the target entered right after "<id>: which?".
                targets = [r.next for r in step.branches] + [step.default]
                for target in dict.fromkeys(targets):
                    rules.append(_is("$.last.Payload.next", "StringEquals", target, target))
            else:
                labels: dict[str, str] = {}
                for number, v in enumerate(step.variants):
                    labels.setdefault(v.next, f"variant {v.name or number + 1} to {v.next}")
                for target, label in labels.items():
                    taken = _unique_name(f"{sid}: {label}", states)
                    states[taken] = {"Type": "Pass", "Next": target}
                    rules.append(_is("$.last.Payload.next", "StringEquals", target, taken))
            states[which] = {"Type": "Choice", "Choices": rules, "Default": bad}
            states[bad] = {
                "Type": "Fail",
                "Error": "Nurture.BadBranch",
                "Cause": f"the {step.type} step {sid} answered no known next step",
            }
        elif isinstance(step, Webhook):
            failed = f"{sid}: failed"
            state = _invoke("webhook", program, sid, steps_arn, step_params(step))
            state["Retry"] = [*LAMBDA_RETRY, WEBHOOK_RETRY]
            state["Catch"] = [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.webhook_error", "Next": failed}
            ]
            states[sid] = _go_on(state, nxt)
            states[failed] = {"Type": "Pass", "Next": then(step.on_failure or nxt)}
        elif isinstance(step, End):
            states[sid] = {"Type": "Succeed"}
        else:  # update_contact, score, notify_sales, create_task, start_program
            state = _invoke(step.type, program, sid, steps_arn, step_params(step))
            states[sid] = _go_on(state, nxt)
    states[FINISHED] = {"Type": "Succeed"}
    states[STOPPED] = {"Type": "Succeed", "Comment": "a step said the run should stop"}
    resumable = list(dict.fromkeys(resumable))
    first = program.steps[0].id
    comment = f"Nurture program {program.id}: {program.name}"
    entry = {
        RESUME_CHOICE: {
            "Type": "Choice",
            "Choices": [
                *(_is("$.resume_at", "StringEquals", r, r) for r in resumable),
                {"Variable": "$.resume_at", "IsPresent": True, "Next": RESUME_UNKNOWN},
            ],
            "Default": first,
        },
        RESUME_UNKNOWN: {
            "Type": "Fail",
            "Error": "Nurture.ResumeMissing",
            "Cause": "resume_at names no resumable step of this version",
        },
    }
    resume_definition = {
        "Comment": f"{comment} (resumed runs)",
        "StartAt": RESUME_CHOICE,
        "States": _reachable({**entry, **states}, RESUME_CHOICE),
    }
    if not resumable:
        definition = {"Comment": comment, "StartAt": first, "States": _reachable(states, first)}
        resume = None
    elif resume_arn is None:  # one machine: every run enters through "resume?"
        definition = {**resume_definition, "Comment": comment}
        resume = None
    else:
        fresh = copy.deepcopy(states)
        for state in fresh.values():
            payload = state.get("Parameters", {}).get("Payload", {})
            if payload.get("action") == "schedule_resume":
                payload["params"]["resume_arn"] = resume_arn
        definition = {"Comment": comment, "StartAt": first, "States": _reachable(fresh, first)}
        resume = resume_definition
    return Compiled(
        definition=definition,
        transitions_per_run=transitions(definition),
        resume_points=resumable,
        resume_definition=resume,
    )


def _unique_name(name: str, taken: dict[str, Any]) -> str:
    """`name` cut to Step Functions' 80 characters, numbered if a state already has it."""
    candidate, number = name[:MAX_STATE_NAME], 1
    while candidate in taken:
        number += 1
        suffix = f" ({number})"
        candidate = name[: MAX_STATE_NAME - len(suffix)] + suffix
    return candidate


def _targets(state: dict[str, Any]) -> list[str]:
    """Every state `state` can go to (Next, Choice rules and Default, Catch)."""
    out = [state["Next"]] if "Next" in state else []
    out += [rule["Next"] for rule in state.get("Choices", [])]
    out += [state["Default"]] if "Default" in state else []
    out += [catcher["Next"] for catcher in state.get("Catch", [])]
    return out


def _reachable(states: dict[str, Any], start: str) -> dict[str, Any]:
    """Only the states a run can reach from `start` (in their order): Step Functions
    refuses a definition with a state nothing goes to, e.g. `Finished` when every step
    ends by its own `end` or loops back."""
    seen = {start}
    todo = [start]
    while todo:
        for target in _targets(states[todo.pop()]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return {name: state for name, state in states.items() if name in seen}


def _successors(name: str, state: dict[str, Any]) -> list[str]:
    out = [state["Next"]] if "Next" in state else []
    if state["Type"] == "Choice":
        out += [rule["Next"] for rule in state["Choices"]]
        if "Default" in state:
            out.append(state["Default"])
    out += [c["Next"] for c in state.get("Catch", []) if c["ErrorEquals"] != ["States.ALL"]]
    if name == RESUME_CHOICE:
        out = [state["Default"]]  # count a fresh start
    # deferrals, stops and failures are not the normal path
    return [
        n
        for n in out
        if not n.endswith((": wait for send window", ": stopped", ": failed"))
        and n != RESUME_UNKNOWN
        and not n.endswith(": unknown choice")
    ]


def transitions(definition: dict[str, Any]) -> dict[str, Any]:
    """State transitions of one execution's shortest and longest normal path (Standard
    workflows bill per transition). Long waits end the execution; the next one is counted
    from its resume point the same way, so `max` is per execution."""
    states: dict[str, Any] = definition["States"]
    memo: dict[str, tuple[int, int | None]] = {}
    visiting: set[str] = set()

    def walk(name: str) -> tuple[int, int | None]:
        if name in memo:
            return memo[name]
        if name in visiting:
            return (0, None)  # a loop inside one execution: unbounded
        visiting.add(name)
        state = states[name]
        succ = _successors(name, state)
        if not succ:
            result: tuple[int, int | None] = (1, 1)
        else:
            parts = [walk(n) for n in succ]
            low = 1 + min(p[0] for p in parts)
            highs = [p[1] for p in parts]
            high = (
                None
                if any(h is None for h in highs)
                else 1 + max(h for h in highs if h is not None)
            )
            result = (low, high)
        visiting.discard(name)
        memo[name] = result
        return result

    low, high = walk(definition["StartAt"])
    return {"min": low, "max": high}
