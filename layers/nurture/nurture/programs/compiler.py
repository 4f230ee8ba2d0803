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

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from nurture.programs.durations import parse_duration
from nurture.programs.model import (
    Branch,
    End,
    Program,
    SendEmail,
    SendSms,
    Split,
    StartProgram,
    UpdateContact,
    Wait,
    WaitForEvent,
    WaitUntil,
    Webhook,
)

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
# A webhook's retryable failures (5xx, timeouts): 1, 2, 4, 8, 16 minutes.
WEBHOOK_RETRY = {
    "ErrorEquals": ["WebhookRetryable"],
    "IntervalSeconds": 60,
    "MaxAttempts": 5,
    "BackoffRate": 2.0,
}
DAY = 86400
# A Standard execution lives at most a year. Waits longer than this, and the waits that close
# a loop, end the execution and resume in a new one through a one-time schedule.
LONG_WAIT_SECONDS = 90 * DAY
# The most one execution may wait in total between two resume points (keeps a margin).
RUN_BUDGET_SECONDS = 360 * DAY
RESUME_CHOICE = "resume?"
FINISHED = "Finished"
STOPPED = "Stopped"

_WAIT_STEPS = (Wait, WaitUntil, WaitForEvent)
_SCHEDULABLE = (Wait, WaitUntil)
# Fields update_contact must not write: they have their own steps or are the system's.
_RESERVED_FIELDS = {
    "contact_id": "it identifies the contact",
    "created_at": "the system keeps it",
    "updated_at": "the system keeps it",
    "consent": "consent is recorded only from the contact's own action",
    "actors": "the system keeps it",
    "stage": "use `stage:` of update_contact",
    "score": "use a `score` step",
    "tags": "use add_tags / remove_tags",
    "fields": "set custom fields by name",
}
_BLOCKED_HOSTS = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")

Loc = tuple[str | int, ...]


@dataclass
class Problem:
    """One thing wrong with a program: where (a path into the YAML) and why, in plain words."""

    loc: Loc
    message: str
    step: str | None = None

    @property
    def where(self) -> str:
        out = ""
        for number, part in enumerate(self.loc):
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
            if self.step and number == 1 and self.loc[0] == "steps":
                out += f" ({self.step})"
        return out or "(file)"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


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
    if step.event == "page" or step.event.startswith("form:"):
        return step.event
    return f"track:{step.event}"


def following_steps(program: Program) -> dict[str, str | None]:
    """Where each step goes when it does not branch: `next`, else the following step."""
    steps = program.steps
    following: dict[str, str | None] = {}
    for index, step in enumerate(steps):
        default = steps[index + 1].id if index + 1 < len(steps) else None
        following[step.id] = step.next or default
    return following


def edges(step: Any, following: dict[str, str | None]) -> list[tuple[Loc, str | None]]:
    """Where a step can go, with the location (inside the step) that says so."""
    if isinstance(step, End):
        return []
    if isinstance(step, WaitForEvent):
        return [(("on_event",), step.on_event), (("on_timeout",), step.on_timeout)]
    if isinstance(step, Branch):
        out: list[tuple[Loc, str | None]] = [
            (("branches", i, "next"), rule.next) for i, rule in enumerate(step.branches)
        ]
        return [*out, (("default",), step.default)]
    if isinstance(step, Split):
        return [(("variants", i, "next"), v.next) for i, v in enumerate(step.variants)]
    nxt = following.get(step.id)
    out = [(("next",) if step.next else (), nxt)]
    if isinstance(step, Webhook) and step.on_failure:
        out.append((("on_failure",), step.on_failure))
    return out


def _sccs(nodes: list[str], graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative), in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = graph.get(node, [])
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component, key=nodes.index))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out


def _cycles(nodes: list[str], graph: dict[str, list[str]]) -> list[list[str]]:
    """The components of `graph` (restricted to `nodes`) that contain a loop."""
    sub = {n: [m for m in graph.get(n, []) if m in nodes] for n in nodes}
    return [c for c in _sccs(nodes, sub) if len(c) > 1 or c[0] in sub[c[0]]]


def _step_graph(program: Program) -> dict[str, list[str]]:
    following = following_steps(program)
    ids = {s.id for s in program.steps}
    return {
        s.id: [t for _, t in edges(s, following) if t is not None and t in ids]
        for s in program.steps
    }


def resume_points(program: Program) -> dict[str, bool]:
    """Steps that end the execution and resume in a new one: step id -> always (True) or only
    when the moment is too far (False, a wait_until outside loops)."""
    graph = _step_graph(program)
    ids = [s.id for s in program.steps]
    in_loop = {n for c in _cycles(ids, graph) for n in c}
    out: dict[str, bool] = {}
    for step in program.steps:
        if isinstance(step, Wait):
            if parse_duration(step.duration) > LONG_WAIT_SECONDS or step.id in in_loop:
                out[step.id] = True
        elif isinstance(step, WaitUntil):
            out[step.id] = step.id in in_loop
    return out


def _allowed_webhook_hosts() -> set[str]:
    """WEBHOOK_ALLOW_HOSTS: hosts exempt from the public-HTTPS rule, as the runtime reads it."""
    from nurture.settings import ActionSettings, load

    return load(ActionSettings).allowed_hosts()


def _host_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        return f"{url!r} is not a valid URL ({exc})"
    if host and host.lower() in _allowed_webhook_hosts():
        return None  # explicitly allowed (tests, private integrations): http(s), any port
    if parts.scheme != "https":
        return f"webhooks must use https:// (got {parts.scheme or 'no scheme'}://)"
    if not host:
        return f"{url!r} has no host name"
    if parts.username or parts.password:
        return "put credentials in `secret`/`headers`, not in the URL"
    if port is not None and port not in (443, 8443):
        return f"port {port} is not allowed; use 443 (or 8443)"
    host = host.rstrip(".").lower()
    if host in _BLOCKED_HOSTS or host.endswith(_BLOCKED_SUFFIXES):
        return f"{host!r} is a local host name; webhooks may only call public addresses"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host.replace(".", "").isdigit() or host.startswith("0x"):
            return f"{host!r} looks like a numeric address; write a public host name or IP"
        if "." not in host:
            return f"{host!r} is not a public host name (it has no domain)"
        return None
    for flag, words in (
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_unspecified", "an unspecified"),
        ("is_multicast", "a multicast"),
        ("is_reserved", "a reserved"),
        ("is_private", "a private"),
    ):
        if getattr(address, flag):
            return f"{host} is {words} address; webhooks may only call public addresses"
    if not address.is_global:
        return f"{host} is not a public address; webhooks may only call public addresses"
    return None


def check_program(program: Program) -> list[Problem]:
    """Everything wrong with a program that can be known without the bucket."""
    problems: list[Problem] = []
    steps = program.steps
    position = {s.id: i for i, s in reversed(list(enumerate(steps)))}
    following = following_steps(program)

    def add(index: int, rel: Loc, message: str) -> None:
        problems.append(Problem(("steps", index, *rel), message, steps[index].id))

    seen: set[str] = set()
    for index, step in enumerate(steps):
        if step.id in seen:
            add(index, ("id",), f"step id {step.id!r} is used twice; each step needs its own id")
        seen.add(step.id)
        for rel, target in edges(step, following):
            if target is not None and target not in position:
                add(index, rel, f"goes to {target!r}, which is not a step of this program")
        if step.next is not None and isinstance(step, (Branch, Split, WaitForEvent, End)):
            how = {
                "branch": "`branches` and `default`",
                "split": "the variants' `next`",
                "wait_for_event": "`on_event` and `on_timeout`",
                "end": "nothing: it ends the run",
            }[step.type]
            add(index, ("next",), f"a {step.type} step goes on by {how}; remove `next`")
        if isinstance(step, WaitForEvent):
            if step.event.startswith("email.") and not step.email:
                add(
                    index,
                    ("event",),
                    f"'{step.event}' needs `email`: the send_email step it refers to",
                )
            if step.email and not any(
                isinstance(s, SendEmail) and s.id == step.email for s in steps
            ):
                add(index, ("email",), f"{step.email!r} is not a send_email step of this program")
            if step.email and not step.event.startswith("email."):
                add(index, ("email",), "`email` goes with email.opened / email.clicked events")
            if parse_duration(step.timeout) > RUN_BUDGET_SECONDS:
                add(
                    index,
                    ("timeout",),
                    f"a deadline can be at most {RUN_BUDGET_SECONDS // DAY} days; for longer, "
                    "use a `wait` and then check with a `branch` on `did`",
                )
        elif isinstance(step, Split):
            total = sum(v.percent for v in step.variants)
            if abs(total - 100) > 1e-6:
                listed = " + ".join(f"{v.percent:g}" for v in step.variants)
                add(index, ("variants",), f"percentages must add up to 100; {listed} = {total:g}")
        elif isinstance(step, Webhook):
            problem = _host_problem(step.url)
            if problem:
                add(index, ("url",), problem)
        elif isinstance(step, UpdateContact):
            for name in step.set:
                reason = _RESERVED_FIELDS.get(name)
                if reason:
                    add(index, ("set", name), f"cannot set {name!r}: {reason}")
        elif isinstance(step, StartProgram) and step.program == program.id:
            add(index, ("program",), "a program cannot start itself; use a loop with a `wait`")
    if problems:
        return problems  # the graph checks below need valid targets
    problems.extend(_graph_problems(program))
    return problems


def _graph_problems(program: Program) -> list[Problem]:
    problems: list[Problem] = []
    steps = program.steps
    by_id = {s.id: s for s in steps}
    position = {s.id: i for i, s in enumerate(steps)}
    graph = _step_graph(program)
    reached: set[str] = set()
    todo = [steps[0].id]
    while todo:
        node = todo.pop()
        if node not in reached:
            reached.add(node)
            todo.extend(graph[node])
    for step in steps:
        if step.id not in reached:
            problems.append(
                Problem(
                    ("steps", position[step.id]),
                    f"step {step.id!r} can never be reached: no step goes to it "
                    f"(the first step is {steps[0].id!r})",
                    step.id,
                )
            )
    ids = [s.id for s in steps if s.id in reached]
    # A loop needs something that waits, or it spins forever.
    no_wait = [n for n in ids if not isinstance(by_id[n], _WAIT_STEPS)]
    for loop in _cycles(no_wait, graph):
        first = loop[0]
        problems.append(
            Problem(
                ("steps", position[first]),
                f"the loop {' -> '.join([*loop, loop[0]])} has no wait and would repeat without "
                "end; add a `wait` step to it",
                first,
            )
        )
    if problems:
        return problems
    # A loop that only waits for events cannot restart its execution (a run lasts a year).
    unschedulable = [n for n in ids if not isinstance(by_id[n], _SCHEDULABLE)]
    for loop in _cycles(unschedulable, graph):
        first = loop[0]
        problems.append(
            Problem(
                ("steps", position[first]),
                f"the loop {' -> '.join([*loop, loop[0]])} only waits for events; add a `wait` "
                "step to it so each round can start afresh",
                first,
            )
        )
    if problems:
        return problems
    # Between two resume points one execution must stay within a year.
    resumes = resume_points(program)

    def cost(node: str) -> int:
        step = by_id[node]
        if isinstance(step, Wait) and node not in resumes:
            return parse_duration(step.duration)
        if isinstance(step, WaitForEvent):
            return parse_duration(step.timeout)
        return 0

    longest: dict[str, int] = {}

    def walk(node: str) -> int:
        if node in longest:
            return longest[node]
        longest[node] = 0  # acyclic once resume points cut the loops
        rest = (
            0
            if node in resumes and resumes[node]
            else max((walk(n) for n in graph[node]), default=0)
        )
        longest[node] = cost(node) + rest
        return longest[node]

    starts = [steps[0].id, *(t for s in resumes for t in graph[s])]
    for start in dict.fromkeys(starts):
        total = walk(start)
        if total > RUN_BUDGET_SECONDS:
            problems.append(
                Problem(
                    ("steps", position[start]),
                    f"from {start!r} a run can wait {total // DAY} days without a break; one "
                    f"stretch may wait at most {RUN_BUDGET_SECONDS // DAY} days. Make one wait "
                    f"longer than {LONG_WAIT_SECONDS // DAY} days (it then resumes by schedule) "
                    "or shorten the waits",
                    start,
                )
            )
    return problems


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
                taken = f"{sid}: {labels[target]}"[:80]
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
        "States": {RESUME_CHOICE: states.pop(RESUME_CHOICE), **states},
    }
    return Compiled(
        definition=definition,
        transitions_per_run=transitions(definition),
        resume_points=resumable,
    )


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
