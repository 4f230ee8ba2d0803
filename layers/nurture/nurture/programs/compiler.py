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
  "delay_seconds": N} or {"resume_at", "at.$": <path of an ISO time>}, plus "state.$": "$"
  and "execution_arn.$": "$$.Execution.Id" (nurture/actions_schedule.py). The action creates an EventBridge Scheduler one-time
  schedule that starts a new execution with input {contact_id, program_id, trigger,
  resume_at, run} (run: the first execution's name, the same across resumes) and returns; the current execution then ends ("<id>: continues later").
* State machine input: {"contact_id", "program_id", "trigger": {...}} and optionally
  "resume_at": "<step id>". Every machine starts with the Choice "resume?" that jumps to
  the named step (only steps that follow a long wait are resumable).
"""

from __future__ import annotations

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
FINISHED = "Finished"
STOPPED = "Stopped"
# Step Functions limits a state name to 80 characters.
MAX_STATE_NAME = 80


@dataclass
class Compiled:
    definition: dict[str, Any]
    transitions_per_run: dict[str, Any] = field(default_factory=dict)
    resume_points: list[str] = field(default_factory=list)


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


def compile_program(program: Program, steps_arn: str) -> Compiled:
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
        stopped = f"{step_id}: stopped"
        states[stopped] = {"Type": "Pass", "Next": STOPPED}
        return _is("$.last.Payload.status", "StringEquals", "stop", stopped)

    def schedule(step_id: str, resume_at: str | None, when: dict[str, Any]) -> dict[str, Any]:
        """Task: make a one-time schedule that resumes at `resume_at`; then this run ends."""
        later = f"{step_id}: continues later"
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
        states[later] = {"Type": "Succeed"}
        state["Next"] = later
        return state

    for step in program.steps:
        nxt = following[step.id]
        sid = step.id
        if isinstance(step, (SendEmail, SendSms)):
            # A send may be deferred (quiet hours, frequency cap): the steps function answers
            # {"status": "deferred", "retry_at": ISO time}; we wait until then and try again.
            check, later = f"{sid}: deferred?", f"{sid}: wait for send window"
            state = _invoke(step.type, program, sid, steps_arn, step_params(step))
            state["Next"] = check
            states[sid] = state
            states[check] = {
                "Type": "Choice",
                "Choices": [
                    _is("$.last.Payload.status", "StringEquals", "deferred", later),
                    stop_rule(sid),
                ],
                "Default": then(nxt),
            }
            states[later] = {
                "Type": "Wait",
                "TimestampPath": "$.last.Payload.retry_at",
                "Next": sid,
            }
        elif isinstance(step, Wait):
            if resumes.get(sid):
                states[sid] = schedule(sid, nxt, {"delay_seconds": parse_duration(step.duration)})
            else:
                states[sid] = {
                    "Type": "Wait",
                    "Seconds": parse_duration(step.duration),
                    "Next": then(nxt),
                }
        elif isinstance(step, WaitUntil):
            when, waiting, far = f"{sid}: when?", f"{sid}: waiting", f"{sid}: resume by schedule"
            state = _invoke("wait_until", program, sid, steps_arn, step_params(step))
            state["Next"] = when
            states[sid] = state
            rules = [stop_rule(sid)]
            if resumes.get(sid):
                rules.append(
                    {"Variable": "$.last.Payload.wait_until", "IsPresent": True, "Next": far}
                )
            else:
                rules.append(_is("$.last.Payload.far", "BooleanEquals", True, far))
                rules.append(
                    {"Variable": "$.last.Payload.wait_until", "IsPresent": True, "Next": waiting}
                )
                states[waiting] = {
                    "Type": "Wait",
                    "TimestampPath": "$.last.Payload.wait_until",
                    "Next": then(nxt),
                }
            states[when] = {"Type": "Choice", "Choices": rules, "Default": then(nxt)}
            states[far] = schedule(sid, nxt, {"at.$": "$.last.Payload.wait_until"})
        elif isinstance(step, WaitForEvent):
            happened, passed = f"{sid}: happened", f"{sid}: deadline passed"
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
            state["ResultPath"] = "$.last"
            state["Catch"] = [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.last", "Next": passed}
            ]
            state["Next"] = happened
            states[sid] = state
            # Named pass states make the branch taken visible in the execution history.
            states[happened] = {"Type": "Pass", "Next": step.on_event}
            states[passed] = {"Type": "Pass", "Next": step.on_timeout}
        elif isinstance(step, (Branch, Split)):
            which, bad = f"{sid}: which?", f"{sid}: unknown choice"
            state = _invoke(step.type, program, sid, steps_arn, step_params(step))
            state["Next"] = which
            states[sid] = state
            if isinstance(step, Branch):
                targets = [r.next for r in step.branches] + [step.default]
                labels = {t: f"to {t}" for t in targets}
            else:
                targets = [v.next for v in step.variants]
                labels = {}
                for number, v in enumerate(step.variants):
                    labels.setdefault(v.next, f"variant {v.name or number + 1} to {v.next}")
            rules = [stop_rule(sid)]
            for target in dict.fromkeys(targets):
                taken = _unique_name(f"{sid}: {labels[target]}", states)
                states[taken] = {"Type": "Pass", "Next": target}
                rules.append(_is("$.last.Payload.next", "StringEquals", target, taken))
            states[which] = {"Type": "Choice", "Choices": rules, "Default": bad}
            states[bad] = {
                "Type": "Fail",
                "Error": "Nurture.BadBranch",
                "Cause": f"the {step.type} step {sid} answered no known next step",
            }
        elif isinstance(step, Webhook):
            done, failed = f"{sid}: stop?", f"{sid}: failed"
            state = _invoke("webhook", program, sid, steps_arn, step_params(step))
            state["Retry"] = [*LAMBDA_RETRY, WEBHOOK_RETRY]
            state["Catch"] = [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.webhook_error", "Next": failed}
            ]
            state["Next"] = done
            states[sid] = state
            states[failed] = {"Type": "Pass", "Next": then(step.on_failure or nxt)}
            states[done] = {"Type": "Choice", "Choices": [stop_rule(sid)], "Default": then(nxt)}
        elif isinstance(step, End):
            states[sid] = {"Type": "Succeed"}
        else:  # update_contact, score, notify_sales, create_task, start_program
            done = f"{sid}: stop?"
            state = _invoke(step.type, program, sid, steps_arn, step_params(step))
            state["Next"] = done
            states[sid] = state
            states[done] = {"Type": "Choice", "Choices": [stop_rule(sid)], "Default": then(nxt)}
    states[FINISHED] = {"Type": "Succeed"}
    states[STOPPED] = {"Type": "Succeed", "Comment": "a step said the run should stop"}
    resumable = list(dict.fromkeys(resumable))
    states["resume: unknown step"] = {
        "Type": "Fail",
        "Error": "Nurture.ResumeMissing",
        "Cause": "resume_at names no resumable step of this version",
    }
    states[RESUME_CHOICE] = {
        "Type": "Choice",
        "Choices": [
            *(_is("$.resume_at", "StringEquals", r, r) for r in resumable),
            {"Variable": "$.resume_at", "IsPresent": True, "Next": "resume: unknown step"},
        ],
        "Default": program.steps[0].id,
    }
    definition = {
        "Comment": f"Nurture program {program.id}: {program.name}",
        "StartAt": RESUME_CHOICE,
        "States": _reachable({RESUME_CHOICE: states.pop(RESUME_CHOICE), **states}),
    }
    return Compiled(
        definition=definition,
        transitions_per_run=transitions(definition),
        resume_points=resumable,
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


def _reachable(states: dict[str, Any]) -> dict[str, Any]:
    """Only the states a run can reach from the first (in their order): Step Functions
    refuses a definition with a state nothing goes to, e.g. `Finished` when every step
    ends by its own `end` or loops back."""
    seen = {RESUME_CHOICE}
    todo = [RESUME_CHOICE]
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
        and n != "resume: unknown step"
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
