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

A second table times stream batches as the react function gets them: 100 records of page
views and tracked events by 300 visitors, a fifth of whom are known contacts (as in
bench/local_http.py), against the same records read per record as before. The batch reads
(`nurture.adapters.batch_reads`: who each record is about read in bulk up front, reads
shared by the records of one batch) are what the react handler uses.

Run from the repository root: `.venv/bin/python bench/react_per_record.py`.
"""

from __future__ import annotations

import os
import random
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
from nurture.adapters.batch_reads import (  # noqa: E402
    BatchActivities,
    BatchContacts,
    BatchReads,
    BatchState,
)
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState  # noqa: E402
from nurture.contacts import Contact  # noqa: E402
from nurture.ports import ProgramRecord  # noqa: E402
from nurture.tracking.events import Activity  # noqa: E402

PROGRAMS = 3
EVENTS = 10 if os.environ.get("BENCH_SMOKE") else 50
REPEATS = 3 if os.environ.get("BENCH_SMOKE") else 7
# the stream batches
BATCH = 100
BATCHES = 2 if os.environ.get("BENCH_SMOKE") else 10
VISITORS = 300
KNOWN = VISITORS // 5
PATHS = ["/", "/pricing", "/blog/deliverability", "/features/journeys", "/docs/start"]


class CountingDynamo(Dynamo):
    """The stub, also counting read units and strongly consistent reads."""

    def __init__(self) -> None:
        super().__init__()
        self.units = 0.0
        self.strong = 0

    def answer(self, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, body = super().answer(operation, request)
        from localcloud.metering import item_size

        if operation in ("GetItem", "Query"):
            consistent = bool(request.get("ConsistentRead"))
            self.strong += consistent
            items = body.get("Items") or ([body["Item"]] if body.get("Item") else [])
            self.units += read_units(sum(item_size(i) for i in items), consistent)
        if operation == "BatchGetItem":  # each item read is metered alone
            for table, wanted in request["RequestItems"].items():
                consistent = bool(wanted.get("ConsistentRead"))
                self.strong += consistent
                for item in body["Responses"].get(table, []):
                    self.units += read_units(item_size(item), consistent)
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
    return per_record(samples, dynamo, (calls0, units0, strong0), REPEATS * EVENTS)


def per_record(
    samples: list[float],
    dynamo: CountingDynamo,
    start: tuple[float, float, float],
    records: int,
) -> tuple[float, float, float, float]:
    """The best CPU µs per record of the samples, and DynamoDB calls, request units and
    strongly consistent reads per record since `start` (the counts when timing began)."""
    calls0, units0, strong0 = start
    return (
        min(samples),
        (sum(dynamo.calls.values()) - calls0) / records,
        (dynamo.units - units0) / records,
        (dynamo.strong - strong0) / records,
    )


def visit(rng: random.Random, n: int) -> Activity:
    """A page view (7 in 10) or a tracked event of one of the visitors."""
    visitor = f"visitor-{rng.randrange(VISITORS):05d}"
    at = clock.iso(clock.now())
    url = f"https://acme.example{rng.choice(PATHS)}"
    page = n % 10 < 7
    return Activity(
        actor=f"anon:{visitor}",
        message_id=f"m-{n}",
        kind="page" if page else "track",
        name="page" if page else rng.choice(["Product Viewed", "Video Played"]),
        occurred_at=at,
        received_at=at,
        anonymous_id=visitor,
        properties={"url": url} if page else {"sku": f"SKU-{rng.randrange(50)}"},
        page={"url": url},
        trust="public",
    )


def run_stream(batched: bool) -> tuple[float, float, float, float]:
    """(best CPU us per record of a batch, calls, read units, strong reads per record)."""
    react.PROGRAM_CACHE_SECONDS = 60
    dynamo = CountingDynamo()
    client = boto3.session.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - a dummy; the network is stubbed
        region_name="us-east-1",
    ).client("dynamodb")
    client.meta.events.register("before-send.dynamodb", dynamo.before_send)
    if batched:
        reads = BatchReads(
            BatchContacts(client, "contacts"),
            BatchActivities(client, "activities", "state"),
            BatchState(client, "state"),
        )
        reactor = react.Reactor(reads.contacts, reads.activities, reads.state, Workflows())
    else:
        reactor = react.Reactor(
            contacts=DynamoContacts(client, "contacts"),
            activities=DynamoActivities(client, "activities", "state"),
            state=DynamoState(client, "state"),
            workflows=Workflows(),
        )
    seed(reactor)
    now = clock.iso(clock.now())
    for k in range(KNOWN):
        visitor = f"visitor-{k * (VISITORS // KNOWN):05d}"
        contact = Contact(
            contact_id=f"c-{k}",
            created_at=now,
            updated_at=now,
            email=f"person{k}@acme.example",
            actors=[f"anon:{visitor}", f"email:person{k}@acme.example"],
        )
        reactor.contacts.save(contact)
        for actor in contact.actors:
            reactor.contacts.link_actor(actor, contact.contact_id)
    rng = random.Random(7)
    batches = [[visit(rng, b * BATCH + i) for i in range(BATCH)] for b in range(BATCHES + 1)]
    samples = []
    calls0 = units0 = strong0 = 0.0
    for number, batch in enumerate(batches):
        if number == 1:  # the first batch warms up
            calls0, units0, strong0 = sum(dynamo.calls.values()), dynamo.units, dynamo.strong
        started = time.process_time()
        if batched:
            with reads.batch(batch):
                for activity in batch:
                    reactor.handle(activity)
        else:
            for activity in batch:
                reactor.handle(activity)
        if number:
            samples.append((time.process_time() - started) / BATCH * 1e6)
    return per_record(samples, dynamo, (calls0, units0, strong0), BATCHES * BATCH)


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
    per_record, batched = run_stream(batched=False), run_stream(batched=True)
    print()
    print(
        f"react per stream batch: {BATCHES} batches of {BATCH} page views / tracked events by "
        f"{VISITORS} visitors ({KNOWN} known contacts), {PROGRAMS} live programs"
    )
    print(f"{'':44}{'CPU us':>9}{'calls':>8}{'read units':>12}{'strong reads':>14}")
    for label, row in (
        ("baseline: read per record", per_record),
        ("now: batch reads (bulk, shared)", batched),
    ):
        print(f"{label:44}{row[0]:9.0f}{row[1]:8.2f}{row[2]:12.2f}{row[3]:14.2f}")
    print(
        f"{'ratio now / baseline':44}{batched[0] / per_record[0]:8.2f}x"
        f"{batched[1] / per_record[1]:7.2f}x{batched[2] / per_record[2]:11.2f}x"
        f"{batched[3] / per_record[3]:13.2f}x"
    )


if __name__ == "__main__":
    main()
