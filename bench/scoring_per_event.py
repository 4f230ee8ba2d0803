"""What lead scoring costs per event, against the react function's own work in the same run.

Scoring runs inline in the react function (no Step Functions execution per scored event), so
its cost is the extra CPU and the extra DynamoDB calls of `Reactor.handle` with a scorer.
Everything below is the production code path: `nurture.react.Reactor`,
`nurture.scoring.engine.Scorer`, the DynamoDB adapters and a real botocore DynamoDB client
(request serialisation, signing, response parsing). Only the network is stubbed: a
`before-send` hook answers each request from a small in-memory table (GetItem, PutItem,
Query, TransactWriteItems with the condition expressions the adapters use), so no socket
is opened and the timings do not depend on a service.

Rows (CPU microseconds per event - `time.process_time`, so other work on a shared machine
does not count - best and median of REPEATS runs, ratio to the baseline):

* baseline: react on a known contact's page view with no scoring model (identity lookups,
  trigger index queries, waits) - what every event costs anyway;
* + scoring, no rule matches: the same event with scoring/b2b.yaml live (models read once
  per batch of 50, as the handler does);
* + scoring, a rule matches: a pricing page view that scores (one day apart in virtual time,
  so the once-a-day rule awards every time, decay included): one conditional write on the
  contact keyed by the activity, plus the recorded `contact.score_changed`;
* the follow-on: react on that `contact.score_changed` record (it reaches the function too).

Run from the repository root: `.venv/bin/python bench/scoring_per_event.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import yaml
from dynamo_stub import Dynamo

from nurture import clock
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState
from nurture.adapters.scoring import DynamoScoringModels
from nurture.contacts import Contact
from nurture.runtime.react import Reactor
from nurture.scoring.engine import Scorer
from nurture.tracking.events import Activity

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 30  # per timed repetition (each event is several botocore calls)
REPEATS = 7
WARMUP = 5
BATCH = 50  # stream batch size (template.yaml): models are read once per batch
TABLES = ("contacts", "activities", "state")


# --- the stubbed network: DynamoDB answered in memory (bench/dynamo_stub.py) --------------


class Workflows:
    """No program is deployed in this bench, so nothing starts or resumes."""

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        raise AssertionError("scoring must not start a workflow")

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        return False

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return False

    def is_running(self, execution_arn: str) -> bool:
        return False

    def stop(self, execution_arn: str, cause: str) -> bool:
        return False


class BenchClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


# --- the set-up -----------------------------------------------------------------------------
@dataclass
class Setup:
    dynamo: Dynamo
    reactor: Reactor
    scorer: Scorer
    contact_id: str


def build() -> Setup:
    dynamo = Dynamo()
    dynamo.metering = False  # sizing items is the stub's work, not the code's being timed
    client = boto3.session.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - a dummy; the network is stubbed
        region_name="us-east-1",
    ).client("dynamodb")
    client.meta.events.register("before-send.dynamodb", dynamo.before_send)
    contacts = DynamoContacts(client, "contacts")
    activities = DynamoActivities(client, "activities", "state")
    registry = DynamoScoringModels(client, "state")
    reactor = Reactor(
        contacts=contacts,
        activities=activities,
        state=DynamoState(client, "state"),
        workflows=Workflows(),
    )
    scorer = Scorer(contacts=contacts, activities=activities, registry=registry)
    model = yaml.safe_load((ROOT / "scoring" / "b2b.yaml").read_text())
    registry.put_model("b2b", "live", model)
    now = clock.iso(clock.now())
    contact = Contact(
        contact_id="c-bench",
        created_at=now,
        updated_at=now,
        email="ann@acme.example",
        job_title="VP Marketing",
        country="GB",
        fields={"industry": "software", "employees": 250},
        stage="lead",
        actors=["anon:visitor-bench", "email:ann@acme.example"],
    )
    contacts.save(contact)
    for actor in contact.actors:
        contacts.link_actor(actor, contact.contact_id)
    return Setup(dynamo, reactor, scorer, contact.contact_id)


def page_view(n: int, url: str) -> Activity:
    at = clock.iso(clock.now())
    return Activity(
        actor="anon:visitor-bench",
        message_id=f"pv-{url.rsplit('/', 1)[-1]}-{n}",
        kind="page",
        name="page",
        occurred_at=at,
        received_at=at,
        anonymous_id="visitor-bench",
        properties={"url": url, "title": "Page", "path": "/" + url.split("/", 3)[-1]},
        page={"url": url, "title": "Page"},
        trust="public",
    )


@dataclass
class Timing:
    best_us: float
    median_us: float
    calls_per_event: float


def measure_all(setup: Setup, variants: list[tuple[str, Callable[[int], None]]]) -> list[Timing]:
    """Interleaved: each repetition runs every variant in turn, so a busy moment on a shared
    machine lands on all of them alike."""
    for _, run in variants:
        for n in range(WARMUP):
            run(-1 - n)
    samples: list[list[float]] = [[] for _ in variants]
    calls = [0] * len(variants)
    for repeat in range(REPEATS):
        for index, (_, run) in enumerate(variants):
            calls_before = sum(setup.dynamo.calls.values())
            started = time.process_time()
            for n in range(EVENTS):
                run(repeat * EVENTS + n)
            samples[index].append((time.process_time() - started) / EVENTS * 1e6)
            calls[index] += sum(setup.dynamo.calls.values()) - calls_before
    return [
        Timing(min(t), statistics.median(t), c / (REPEATS * EVENTS))
        for t, c in zip(samples, calls, strict=True)
    ]


def main() -> None:
    bench_clock = BenchClock()
    clock.set_clock(bench_clock)
    setup = build()
    reactor, scorer = setup.reactor, setup.scorer

    def batch_start(n: int) -> None:
        if n % BATCH == 0:
            scorer.refresh()  # the handler reads the models once per stream batch

    def baseline(n: int) -> None:
        reactor.scoring = None
        reactor.handle(page_view(n, "https://acme.example/docs/getting-started"))

    def unscored(n: int) -> None:
        reactor.scoring = scorer
        batch_start(n)
        reactor.handle(page_view(n, "https://acme.example/docs/getting-started"))

    followers: list[Activity] = []

    def scored(n: int) -> None:
        reactor.scoring = scorer
        batch_start(n)
        bench_clock.at += timedelta(days=1, seconds=1)  # the once-a-day rule awards again
        before = setup.dynamo.count()
        reactor.handle(page_view(n, "https://acme.example/pricing"))
        if setup.dynamo.count() == before:
            raise SystemExit("the pricing page view did not score")

    # The follow-on: react on score_changed records like those the scored events write.
    for n in range(3):
        scored(-100 - n)
    followers.extend(
        Activity.model_validate_json(item["doc"]["S"])
        for item in setup.dynamo.partitions[("activities", "contact:c-bench")].values()
        if '"contact.score_changed"' in item["doc"]["S"]
    )

    def follow_on(n: int) -> None:
        reactor.scoring = scorer
        batch_start(n)
        reactor.handle(followers[n % len(followers)])

    variants = [
        ("baseline: react, no scoring model", baseline),
        ("+ scoring, no rule matches", unscored),
        ("+ scoring, a rule matches (points)", scored),
        ("react on the recorded score_changed", follow_on),
    ]
    rows = list(zip([label for label, _ in variants], measure_all(setup, variants), strict=True))
    base = rows[0][1]
    contact = reactor.contacts.get(setup.contact_id)
    assert contact is not None and contact.score > 0 and contact.grade == "A"

    print(
        f"Python {sys.version.split()[0]}; botocore DynamoDB client, network stubbed; "
        f"{REPEATS} x {EVENTS} events per row, interleaved, after a warm-up; CPU us per event"
    )
    print()
    print(f"{'':40} {'best':>8} {'median':>8} {'x base':>7} {'DynamoDB calls':>15}")
    for label, t in rows:
        ratio = t.best_us / base.best_us
        print(
            f"{label:40} {t.best_us:8.1f} {t.median_us:8.1f} {ratio:6.2f}x {t.calls_per_event:15.2f}"
        )
    unmatched, matched, follow = rows[1][1], rows[2][1], rows[3][1]
    print()
    print("ratios of the best repetitions (the least disturbed by other work):")
    print(
        f"scoring per event: {unmatched.best_us - base.best_us:+.0f} us when no rule matches "
        f"({unmatched.best_us / base.best_us:.2f}x the react baseline), "
        f"{matched.best_us - base.best_us:+.0f} us when one does "
        f"({matched.best_us / base.best_us:.2f}x; "
        f"{matched.calls_per_event - base.calls_per_event:+.2f} DynamoDB calls), "
        f"and {follow.best_us / base.best_us:.2f}x for reacting to its score_changed record; "
        "0 Step Functions executions"
    )


if __name__ == "__main__":
    main()
