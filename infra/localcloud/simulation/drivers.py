"""The two engines `nurture simulate --contacts N` can run on, behind one interface:

    CloudDriver   the moto-based local cloud (localcloud.commands.simulate.Simulation):
                  Step Functions' own interpreter, DynamoDB, SES capture, the handlers
    FastDriver    the fast engine (localcloud.simulation.engine.FastSimulation)

Both enter the same synthetic contacts the same way, and let them open, click and buy;
`timeline` reads a contact's run of the program from the stored activities, the same way
on both, for the differential test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# What a contact's run of a program is, for comparing engines: (virtual time, activity,
# step, and the properties that say which way it went).
TIMELINE_PROPERTIES = ("step_id", "reason", "next", "variant", "status", "goal", "recipient")
# SES's own bookkeeping events: their order at one instant differs between engines and
# they say nothing about the program
NOT_TIMELINE = frozenset({"email.send_accepted", "email.delivered"})


def timeline_of(
    activities: Iterable[tuple[str, str, dict[str, Any]]], program_id: str
) -> list[tuple[Any, ...]]:
    """(occurred_at, name, properties) of one contact -> their timeline in this program."""
    rows = []
    for occurred_at, name, props in activities:
        if props.get("program_id") != program_id or name in NOT_TIMELINE:
            continue
        rows.append((occurred_at, name, *(props.get(k) for k in TIMELINE_PROPERTIES)))
    return sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r))


@dataclass
class Counts:
    """What the summary needs besides the stored activities."""

    transitions: int = 0
    executions: int = 0
    invocations: dict[str, int] = field(default_factory=dict)
    port_calls: dict[str, int] = field(default_factory=dict)
    schedules: int = 0


class FastDriver:
    def __init__(self, root: Path, start: datetime) -> None:
        from localcloud.simulation.engine import FastSimulation

        self.sim = FastSimulation(root, start)
        self.errors = self.sim.errors

    def deploy(self, path: Path) -> tuple[Any, dict[str, Any]]:
        return self.sim.deploy(path)

    def running(self) -> Any:
        return self.sim.running()

    def watch(self, program_id: str, count: Callable[[str, dict[str, Any]], None]) -> None:
        self.sim.on_activity = lambda activity: count(activity.name, activity.properties)

    def now(self) -> datetime:
        return self.sim.now()

    def advance_to(self, moment: datetime) -> None:
        self.sim.run_until(moment)

    def enter(self, program: Any, contact: Any) -> bool:
        return self.sim.enter(program, contact)

    @property
    def outbox(self) -> list[Any]:
        return self.sim.emails

    def open(self, email: Any) -> None:
        self.sim.open_email(email)

    def click(self, email: Any) -> None:
        self.sim.click_email(email)

    def track(self, body: dict[str, Any]) -> None:
        self.sim.track(body)

    def counts(self) -> Counts:
        runs = self.sim.asl.executions.values()
        return Counts(
            transitions=sum(r.transitions for r in runs),
            executions=len(runs),
            invocations=dict(self.sim.invocations),
            port_calls=dict(self.sim.calls),
            schedules=self.sim.schedules_fired,
        )

    def timeline(self, contact_id: str, program_id: str) -> list[tuple[Any, ...]]:
        found = self.sim.activities.list_for([f"contact:{contact_id}"], 100_000)
        return timeline_of(((a.occurred_at, a.name, a.properties) for a in found), program_id)


class CloudDriver:
    def __init__(self, root: Path | None, start: datetime | None, program_path: Path) -> None:
        from localcloud.commands.simulate import Simulation

        self.simulation = Simulation(program_path, root, start)
        self.cloud = self.simulation.cloud
        self.cloud.frequent_schedules = False  # hourly digests are not part of a program's run
        self.errors = self.cloud.errors

    def deploy(self, path: Path) -> tuple[Any, dict[str, Any]]:
        return self.simulation.deploy()

    def running(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def up() -> Any:
            try:
                self.cloud.start()
            except BaseException:
                if self.cloud._mock is not None:  # started part way: leave nothing behind
                    self.cloud.__exit__()
                raise
            try:
                yield self
            finally:
                self.errors = list(self.cloud.errors)
                self.cloud.__exit__()

        return up()

    def watch(self, program_id: str, count: Callable[[str, dict[str, Any]], None]) -> None:
        """Count what the stored activities say, as the timeline reads them (each once)."""
        cloud = self.cloud
        observe = cloud._observe_activity

        def counting(record: dict[str, Any]) -> None:
            observe(record)
            image = record.get("dynamodb", {}).get("NewImage", {})
            if record.get("eventName") == "INSERT" and "doc" in image:
                doc = json.loads(image["doc"]["S"])
                count(doc.get("name"), doc.get("properties") or {})

        cloud._observe_activity = counting  # type: ignore[method-assign]

    def now(self) -> datetime:
        return self.cloud.clock.now()

    def advance_to(self, moment: datetime) -> None:
        if moment > self.cloud.clock.now():
            self.cloud.advance(moment - self.cloud.clock.now())

    def enter(self, program: Any, contact: Any) -> bool:
        return self.simulation.enter(program, contact)

    @property
    def outbox(self) -> list[Any]:
        return self.cloud.outbox

    def open(self, email: Any) -> None:
        self.cloud.open_email(email)

    def click(self, email: Any) -> None:
        self.cloud.click_email(email)

    def track(self, body: dict[str, Any]) -> None:
        self.cloud.http("POST", "/v1/track", body)

    def counts(self) -> Counts:
        """State transitions as Step Functions bills them: every state entered, read from
        each execution's history."""
        counts = Counts()
        sfn = self.cloud.client("stepfunctions")
        for arn in list(self.cloud._executions):
            counts.executions += 1
            token: str | None = None
            while True:
                page = sfn.get_execution_history(
                    executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
                )
                counts.transitions += sum(
                    1 for e in page["events"] if e["type"].endswith("Entered")
                )
                token = page.get("nextToken")
                if not token:
                    break
        return counts

    def timeline(self, contact_id: str, program_id: str) -> list[tuple[Any, ...]]:
        from nurture.adapters.dynamodb import DynamoActivities

        refs = self.cloud.resolver.refs
        store = DynamoActivities(
            self.cloud.client("dynamodb"), refs["ActivitiesTable"], refs["StateTable"]
        )
        found = store.list_for([f"contact:{contact_id}"], 1000)
        return timeline_of(((a.occurred_at, a.name, a.properties) for a in found), program_id)
