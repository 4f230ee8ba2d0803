"""What the react function costs per stream record, with programs live: DynamoDB calls, read
units and strongly consistent reads per record, and CPU time, against the react function as
it read programs before (every trigger on every record: the trigger index queried and each
program record read strongly consistent, uncached).

Production code path: `nurture.runtime.react.Reactor` with the DynamoDB adapters on a real
botocore client; only the network is stubbed (bench/scoring_per_event.py's in-memory
DynamoDB at `before-send`). The records are a known contact's page views; PROGRAMS live
programs start on page views (`event: page`, on other URLs, so nobody enters: what is
measured is finding out).

Read units follow AWS's rules: 1 per 4 KB read strongly consistent, half that eventually
consistent (item sizes: localcloud.metering.item_size).

Run from the repository root: `.venv/bin/python bench/react_per_record.py`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import boto3  # noqa: E402
from scoring_per_event import BenchClock, Dynamo, Workflows, page_view  # noqa: E402

import nurture.runtime.react as react  # noqa: E402
from localcloud.metering import read_units  # noqa: E402
from nurture import clock  # noqa: E402
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState  # noqa: E402
from nurture.contacts import Contact  # noqa: E402
from nurture.ports import ProgramRecord  # noqa: E402

PROGRAMS = 3
EVENTS = 10 if os.environ.get("BENCH_SMOKE") else 50
REPEATS = 3 if os.environ.get("BENCH_SMOKE") else 7


class CountingDynamo(Dynamo):
    """The stub, also counting read units and strongly consistent reads."""

    def __init__(self) -> None:
        super().__init__()
        self.units = 0.0
        self.strong = 0

    def answer(self, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, body = super().answer(operation, request)
        if operation in ("GetItem", "Query"):
            from localcloud.metering import item_size

            consistent = bool(request.get("ConsistentRead"))
            self.strong += consistent
            items = body.get("Items") or ([body["Item"]] if body.get("Item") else [])
            self.units += read_units(sum(item_size(i) for i in items), consistent)
        return status, body


class BeforeState(DynamoState):
    """Program records as react read them before: always strongly consistent."""

    def get_program(self, program_id: str, consistent: bool = True) -> ProgramRecord | None:
        return super().get_program(program_id, consistent=True)


def build(dynamo: CountingDynamo, before: bool) -> react.Reactor:
    client = boto3.session.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - a dummy; the network is stubbed
        region_name="us-east-1",
    ).client("dynamodb")
    client.meta.events.register("before-send.dynamodb", dynamo.before_send)
    state = (BeforeState if before else DynamoState)(client, "state")
    contacts = DynamoContacts(client, "contacts")
    return react.Reactor(
        contacts=contacts,
        activities=DynamoActivities(client, "activities", "state"),
        state=state,
        workflows=Workflows(),
    )


def seed(reactor: react.Reactor) -> None:
    for n in range(PROGRAMS):
        program_id = f"promo-{n}"
        definition = {
            "id": program_id,
            "name": f"Promotion {n}",
            "trigger": {"event": "page", "where": {"url": {"glob": f"*/promo-{n}*"}}},
            "steps": [{"id": "hello", "type": "send_email", "template": "welcome-1"}],
        }
        reactor.state.register_program(
            ProgramRecord(program_id, "live", f"arn:alias:{n}", "1", ["event:page"], definition)
        )
    now = clock.iso(clock.now())
    contact = Contact(
        contact_id="c-bench",
        created_at=now,
        updated_at=now,
        email="ann@acme.example",
        stage="lead",
        actors=["anon:visitor-bench", "email:ann@acme.example"],
    )
    reactor.contacts.save(contact)
    for actor in contact.actors:
        reactor.contacts.link_actor(actor, contact.contact_id)


def run(before: bool) -> tuple[float, float, float, float]:
    """(best CPU us per record, calls, read units, strong reads per record)."""
    react.PROGRAM_CACHE_SECONDS = 0 if before else 60
    dynamo = CountingDynamo()
    reactor = build(dynamo, before)
    seed(reactor)
    for n in range(5):  # warm-up
        reactor.handle(page_view(-1 - n, "https://acme.example/docs"))
    samples = []
    calls0, units0, strong0 = sum(dynamo.calls.values()), dynamo.units, dynamo.strong
    for repeat in range(REPEATS):
        started = time.process_time()
        for n in range(EVENTS):
            reactor.handle(page_view(repeat * EVENTS + n, "https://acme.example/docs"))
        samples.append((time.process_time() - started) / EVENTS * 1e6)
    records = REPEATS * EVENTS
    return (
        min(samples),
        (sum(dynamo.calls.values()) - calls0) / records,
        (dynamo.units - units0) / records,
        (dynamo.strong - strong0) / records,
        statistics.median(samples),
    )[:4]


def main() -> None:
    clock.set_clock(BenchClock())  # a fixed moment: within the cache's time, as in a burst
    old = run(before=True)
    new = run(before=False)
    print(
        f"react per record: a known contact's page view, {PROGRAMS} live programs on page views; "
        f"botocore DynamoDB client, network stubbed; {REPEATS} x {EVENTS} records"
    )
    print(f"{'':44}{'CPU us':>9}{'calls':>8}{'read units':>12}{'strong reads':>14}")
    for label, row in (
        ("baseline: programs read as before", old),
        ("now: cached per version", new),
    ):
        print(f"{label:44}{row[0]:9.0f}{row[1]:8.2f}{row[2]:12.2f}{row[3]:14.2f}")
    print(
        f"{'ratio now / baseline':44}{new[0] / old[0]:8.2f}x{new[1] / old[1]:7.2f}x"
        f"{new[2] / old[2]:11.2f}x{(new[3] / old[3] if old[3] else 0):13.2f}x"
    )


if __name__ == "__main__":
    main()
