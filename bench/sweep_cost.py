"""What the daily sweep costs at 1,000 and 100,000 synthetic contacts, with nobody due and
with 1% due, against the full scan it replaced.

Two live programs: a yearly birthday (date trigger) and "no page view for 90 days"
(inactivity). Contacts have a birthday and a last page view; "1% due" means 1% have their
birthday today and another 1% looked at a page last 91 days ago (lapsed since yesterday noon).

Production code path: `nurture.runtime.sweep.Sweeper` with `nurture.runtime.due.DueIndex`,
the DynamoDB adapters and a real botocore client; only the network is stubbed (the
in-memory DynamoDB of bench/scoring_per_event.py, which also counts read units). Contacts
are enrolled through `Reactor.enrol`; Step Functions is a counter. The baseline is the full
scan as it was (every contact read by a Scan, and for the inactivity program each one's
history queried, then the same exact check): run at 1,000 contacts, and at 100,000 given
as 100x that (a scan's cost is linear in the contacts by construction; running it here
would take minutes of CPU).

Run from the repository root: `.venv/bin/python bench/sweep_cost.py` (BENCH_SMOKE=1: 1,000
only).
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from react_per_record import CountingDynamo, build  # noqa: E402
from scoring_per_event import BenchClock  # noqa: E402

from nurture import clock  # noqa: E402
from nurture.adapters.due import DynamoDue  # noqa: E402
from nurture.contacts import Contact  # noqa: E402
from nurture.ports import ProgramRecord  # noqa: E402
from nurture.runtime.due import DueIndex, active_bucket, date_bucket  # noqa: E402
from nurture.runtime.sweep import Sweeper  # noqa: E402
from nurture.runtime.view import ContactView  # noqa: E402
from nurture.tracking.events import Activity  # noqa: E402

NOW = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)
PROGRAMS = {
    "birthday": {"date": "birthday", "repeat": "yearly"},
    "reactivation": {"inactivity": "page", "days": 90},
}
HISTORY = 20  # activities per contact (the scan's history query reads them)


class ScanningDynamo(CountingDynamo):
    """The stub, answering Scan too (the full scan's baseline) and counting its units."""

    def answer(self, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if operation == "UpdateItem":  # enrolment status: SET a = :v, ... under a condition
            self.calls["UpdateItem"] = self.calls.get("UpdateItem", 0) + 1
            key = self._key(request["TableName"], request["Key"])
            if not self._holds(request, key):
                return 400, {"__type": "#ConditionalCheckFailedException", "message": "failed"}
            item = dict(self.get(key) or request["Key"])
            names = request.get("ExpressionAttributeNames", {})
            values = request["ExpressionAttributeValues"]
            for part in request["UpdateExpression"].removeprefix("SET ").split(","):
                name, value = (x.strip() for x in part.split("="))
                item[names.get(name, name)] = values[value]
            self.put(key, item)
            return 200, {}
        if operation != "Scan":
            return super().answer(operation, request)
        from localcloud.metering import item_size, read_units

        self.calls["Scan"] = self.calls.get("Scan", 0) + 1
        table = request["TableName"]
        items = [
            item
            for (t, pk), part in self.partitions.items()
            if t == table and pk.startswith("CONTACT#")
            for sk, item in part.items()
            if sk == "PROFILE"
        ]
        self.units += read_units(sum(item_size(i) for i in items), False)
        return 200, {"Items": items, "Count": len(items), "ScannedCount": len(items)}


class Starts:
    def __init__(self) -> None:
        self.started = 0

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        self.started += 1
        return f"arn:execution:{name}"

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        return False

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return False

    def is_running(self, execution_arn: str) -> bool:
        return False

    def stop(self, execution_arn: str, cause: str) -> bool:
        return False


def populate(dynamo: ScanningDynamo, reactor: Any, contacts: int, share: float) -> None:
    """One contact written through the adapters, then copied in the stub (fast)."""
    for program_id, trigger in PROGRAMS.items():
        definition = {
            "id": program_id,
            "name": program_id,
            "trigger": trigger,
            "steps": [{"id": "hello", "type": "send_email", "template": "welcome-1"}],
        }
        key = "date" if "date" in trigger else "inactivity"
        reactor.state.register_program(
            ProgramRecord(program_id, "live", f"arn:alias:{program_id}", "1", [key], definition)
        )
    template = Contact(
        contact_id="c-0",
        created_at="2020-01-01T00:00:00Z",
        updated_at="2020-01-01T00:00:00Z",
        email="c-0@example.com",
        stage="lead",
        birthday="1990-01-01",
        actors=["email:c-0@example.com"],
    )
    reactor.contacts.save(template)
    profile = dynamo.partitions[("contacts", "CONTACT#c-0")]["PROFILE"]
    activity = Activity(
        actor="contact:c-0",
        contact_id="c-0",
        message_id="m-0",
        kind="page",
        name="page",
        occurred_at="2026-01-01T12:00:00Z",
        received_at="2026-01-01T12:00:00Z",
        properties={"url": "https://shop.example/p"},
    )
    due_count = int(contacts * share)
    for n in range(contacts):
        cid = f"c-{n}"
        is_due = n < due_count
        is_lapsed = due_count <= n < 2 * due_count
        birthday = NOW.date() if is_due else (NOW + timedelta(days=10 + n % 300)).date()
        last_day = NOW.date() - timedelta(days=91 if is_lapsed else 1 + n % 60)
        doc = json.loads(profile["doc"]["S"])
        doc.update(
            contact_id=cid,
            email=f"{cid}@example.com",
            birthday=birthday.replace(year=1990).isoformat(),
            actors=[f"email:{cid}@example.com"],
        )
        item = copy.deepcopy(profile)
        item["pk"] = {"S": f"CONTACT#{cid}"}
        item["doc"] = {"S": json.dumps(doc)}
        dynamo.partitions[("contacts", f"CONTACT#{cid}")] = {"PROFILE": item}
        dynamo.partitions.setdefault(
            ("state", "DUE#" + date_bucket("birthday", birthday.strftime("%m-%d"))), {}
        )[cid] = {"pk": {"S": "x"}, "sk": {"S": cid}}
        dynamo.partitions.setdefault(
            ("state", "DUE#" + active_bucket("reactivation", last_day.isoformat())), {}
        )[cid] = {"pk": {"S": "x"}, "sk": {"S": cid}}
        history = dynamo.partitions.setdefault(("activities", f"email:{cid}@example.com"), {})
        for k in range(HISTORY if contacts <= 1000 or is_lapsed or is_due else 1):
            at = datetime(last_day.year, last_day.month, last_day.day, 12, tzinfo=UTC) - timedelta(
                days=k
            )
            doc_a = activity.model_copy(
                update={
                    "actor": f"email:{cid}@example.com",
                    "contact_id": cid,
                    "message_id": f"m-{cid}-{k}",
                    "occurred_at": clock.iso(at),
                }
            )
            history[f"{clock.iso(at)}#{k}"] = {
                "pk": {"S": f"email:{cid}@example.com"},
                "sk": {"S": f"{clock.iso(at)}#{k}"},
                "doc": {"S": doc_a.model_dump_json()},
            }


def old_scan(sweeper: Sweeper) -> int:
    """The daily sweep as it was: every contact, the same exact check."""
    entered = 0
    programs = sweeper._programs()
    for contact in sweeper.reactor.contacts.scan():
        view = ContactView(contact, sweeper.reactor.activities)
        for program in programs:
            found = sweeper._due(program, view, clock.now())
            if found and sweeper.reactor.enrol(
                program.id, contact, found[0], view=view, start_at=found[1]
            ):
                entered += 1
    return entered


def measure(contacts: int, share: float, baseline: bool) -> tuple[float, int, float, int]:
    """(CPU seconds, DynamoDB calls, read units, entered)."""
    dynamo = ScanningDynamo()
    reactor = build(dynamo, before=False)
    reactor.workflows = Starts()
    due = DueIndex(DynamoDue(reactor.state._db, "state"), reactor)  # type: ignore[attr-defined]
    sweeper = Sweeper(reactor, due)
    populate(dynamo, reactor, contacts, share)
    dynamo.calls.clear()
    dynamo.units = 0.0
    calls0 = sum(dynamo.calls.values())
    started = time.process_time()
    entered = old_scan(sweeper) if baseline else sum(sweeper.daily().entered.values())
    cpu = time.process_time() - started
    return cpu, sum(dynamo.calls.values()) - calls0, dynamo.units, entered


def main() -> None:
    bench_clock = BenchClock()
    bench_clock.at = NOW
    clock.set_clock(bench_clock)
    sizes = [1000] if os.environ.get("BENCH_SMOKE") else [1000, 100_000]
    print("daily sweep: a birthday and a 90-day inactivity program; botocore, network stubbed")
    print(f"{'':34}{'CPU s':>9}{'DynamoDB calls':>16}{'read units':>12}{'entered':>9}")
    for share, label in ((0.0, "nobody due"), (0.01, "1% due")):
        base = measure(1000, share, baseline=True)
        for size in sizes:
            now = measure(size, share, baseline=False)
            scale = size / 1000
            print(
                f"{f'{size:,} contacts, {label}, full scan':34}{base[0] * scale:9.2f}"
                f"{base[1] * scale:16.0f}{base[2] * scale:12.0f}{base[3] * scale:9.0f}"
                + ("  (x100 of 1,000)" if size > 1000 else "")
            )
            print(
                f"{f'{size:,} contacts, {label}, due index':34}{now[0]:9.2f}{now[1]:16d}"
                f"{now[2]:12.1f}{now[3]:9d}"
            )


if __name__ == "__main__":
    main()
