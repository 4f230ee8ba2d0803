"""Checking a program before it is compiled: ids and targets, a graph every step can reach,
loops that wait, runs that fit one Standard execution, safe webhook addresses, and values Step
Functions would read as paths. Each problem names where it is (a path into the YAML)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from nurture.programs.durations import parse_duration
from nurture.programs.model import (
    Branch,
    End,
    Program,
    SendEmail,
    Split,
    StartProgram,
    UpdateContact,
    Wait,
    WaitForEvent,
    WaitUntil,
    Webhook,
)
from nurture.webhooks.addresses import refusal

DAY = 86400
# A Standard execution lives at most a year. Waits longer than this, and the waits that close
# a loop, end the execution and resume in a new one through a one-time schedule.
LONG_WAIT_SECONDS = 90 * DAY
# The most one execution may wait in total between two resume points (keeps a margin).
RUN_BUDGET_SECONDS = 360 * DAY

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
    from nurture.settings import load
    from nurture.settings.actions import ActionSettings

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
    why = refusal(address)
    if why:
        return f"{why}; webhooks may only call public addresses"
    return None


def _path_keys(value: Any, at: Loc = ()) -> list[Loc]:
    """Where a mapping key ends in '.$' (a step's fields go into the state's Parameters)."""
    if isinstance(value, dict):
        found = [(*at, k) for k in value if isinstance(k, str) and k.endswith(".$")]
        return found + [loc for k, v in value.items() for loc in _path_keys(v, (*at, k))]
    if isinstance(value, list):
        return [loc for i, v in enumerate(value) for loc in _path_keys(v, (*at, i))]
    return []


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
            if step.auto_winner and step.auto_winner.metric == "goal" and not program.goals:
                add(
                    index,
                    ("auto_winner", "metric"),
                    "the winner is picked on the program's goals, and it has none; add `goals:` "
                    "or use `metric: clicks`",
                )
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
        for rel in _path_keys(step.model_dump(mode="json", by_alias=True, exclude_defaults=True)):
            add(
                index,
                rel,
                f"a name may not end in '.$' ({rel[-1]!r}): Step Functions would read "
                "its value as a path into the run's data",
            )
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
