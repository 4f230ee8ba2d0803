"""Per-event cost of the ingest API on the code production runs, against parsing and
validating the same events.

Every page view, identify and tracked event on a customer's site goes through the ingest
function (`functions/ingest/app.py`), so its per-event cost is what Nurture's bill scales
with. Everything timed is production code: the Lambda handler (powertools decorators, the
APIGatewayHttpResolver routing, base64 body, Basic-auth write key, per-event results JSON),
`nurture.tracking.ingest`, the DynamoDB adapter and the handler's own botocore client.
Only the network is stubbed: botocore's `before-send` event is answered in memory
(bench/dynamo_stub.py), so serialisation, signing and response parsing all run; the CPU the
stub spends answering (decoding the request, encoding the answer: DynamoDB's side of the
wire) is measured and not counted.

Rows, each beside its baseline and its goal (issue #9):

* baseline: `json.loads` of a /v1/batch body plus pydantic validation of each event with a
  `TypeAdapter` over `nurture.tracking.calls.InboundEvent` (the least any implementation
  must do);
* the handler on /v1/batch (100 events per call): goal <= 3x the baseline;
* the floor of any design that validates each event and stores it as its own item: the
  baseline plus only the bulk INSERTs of the same events' items, built beforehand (DynamoDB
  takes 25 writes a call; each call costs botocore's fixed work besides serialising): when
  the floor itself is over the goal, no handler can meet it;
* the handler with one event per call (/v1/page, /v1/track, /v1/identify), as analytics.js
  sends them without batching (shown against the same baseline; no goal);
* of which: `json.loads` + `parse_event` (the validation, with the value budget screened
  over the whole body first, as the handler does), and `ingest_events` into an in-memory
  store (validation, times, activities, results: all but the handler and DynamoDB);
* DynamoDB write units per event (goal <= 1 for an event under 1 KB: every item the stub's
  tables hold for such an event, summed, as DynamoDB bills each put), read units and calls;
* one 500-event batch, and the same with a third of its writes handed back as
  UnprocessedItems (a throttled table): goal well inside the function's 10 s timeout, with
  each bulk call's round trip (ROUND_TRIP_MS) added to the CPU time measured.

Events are realistic Segment track/page/identify calls (context.page, campaign, user agent,
properties; about 0.7-1.3 KB each). Timings are CPU time (`time.process_time`, so other
work on a shared machine does not count), with a warm-up and several repetitions; the best
and the median repetition are reported in microseconds per event. The rows take turns within
each repetition, and "x base" is the median of each repetition's ratio to the baseline timed
moments before it: on a busy machine a ratio of times taken seconds apart swung by half.

Run from the repository root: `.venv/bin/python bench/ingest_per_event.py`;
`BENCH_SMOKE=1` runs a short pass (what CI runs, to keep the bench working).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dynamo_stub import Dynamo, item_bytes, stub_default_session
from pydantic import TypeAdapter

from localcloud.fakes import InMemoryActivities
from nurture.adapters.bulk import Backoff, insert_new
from nurture.tracking.calls import InboundEvent, parse_event
from nurture.tracking.events import Activity
from nurture.tracking.ingest import ingest_events
from nurture.tracking.values import fits_budget

ROOT = Path(__file__).resolve().parent.parent
WRITE_KEY = "bench-write-key-0001"
SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")
EVENTS_PER_BATCH = 100
BATCHES = 10  # distinct request bodies, cycled through
CALLS_PER_REPEAT = 2 if SMOKE else 10  # /v1/batch calls per timed repetition
SINGLE_CALLS_PER_REPEAT = 20 if SMOKE else 200  # single-event calls per repetition
REPEATS = 2 if SMOKE else 7
WARMUP_CALLS = 2 if SMOKE else 5
BIG_BATCH = 500
ROUND_TRIP_MS = 10.0  # a DynamoDB call's network round trip from Lambda in the same region
TIMEOUT_S = 10.0  # IngestFunction's Timeout in template.yaml
GOAL_RATIO = 3.0
GOAL_WRITE_UNITS = 1.0
# What the README recorded before the message-keyed items (same bench, same events).
BEFORE_WRITE_UNITS = 2.15
# The handler's ratio before the value budget's screen and the settled collector (this
# script, its rows taking turns, 6 runs on the shared machine); 12-36x with the marker design.
BEFORE_RATIO = "8.2-9.3x"

# What the ingest function reads at import (nurture.settings.ingest.IngestSettings) and what powertools
# and boto3 need, set before the handler module is imported.
HANDLER_ENV = {
    "SECRETS_PATH": "/nurture/bench",
    "ACTIVITIES_TABLE": "bench-activities",
    "STATE_TABLE": "bench-state",
    "CONTENT_BUCKET": "bench-content",
    "ALLOWED_ORIGINS": "https://www.example.com",
    "POWERTOOLS_SERVICE_NAME": "nurture",
    "POWERTOOLS_METRICS_NAMESPACE": "Nurture",
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon: a per-call, not per-event cost
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",  # as Lambda's runtime sets it
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",  # a dummy; nothing calls AWS
    "AWS_SESSION_TOKEN": "bench",
}


# --- realistic Segment events -----------------------------------------------------------------

PAGES = [
    ("/", "Home", "Acme — Marketing automation for small teams"),
    ("/pricing", "Pricing", "Pricing — Acme"),
    (
        "/blog/email-deliverability-checklist",
        "Blog Post",
        "The email deliverability checklist",
    ),
    ("/features/journeys", "Features", "Journeys that follow your customers — Acme"),
    ("/docs/getting-started", "Docs", "Getting started — Acme docs"),
    ("/signup", "Signup", "Start your free trial — Acme"),
]
REFERRERS = [
    "https://www.google.com/",
    "https://news.ycombinator.com/",
    "",
    "https://t.co/abc",
]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
]
TRACKS = [
    ("Signed Up", {"plan": "trial", "source": "pricing-page"}),
    ("Product Viewed", {"product_id": "sku-1042", "name": "Team plan", "price": 49.0}),
    ("Button Clicked", {"label": "Book a demo", "location": "hero"}),
    ("Video Played", {"video": "journeys-overview", "position": 0, "length": 184}),
]


def _context(rng: random.Random, path: str, title: str) -> dict[str, Any]:
    search = "?utm_source=newsletter&utm_medium=email" if rng.random() < 0.3 else ""
    ctx: dict[str, Any] = {
        "library": {"name": "analytics.js", "version": "next-1.72.0"},
        "page": {
            "path": path,
            "referrer": rng.choice(REFERRERS),
            "search": search,
            "title": title,
            "url": f"https://www.example.com{path}{search}",
        },
        "userAgent": rng.choice(AGENTS),
        "locale": rng.choice(["en-GB", "en-US", "de-DE", "fr-FR"]),
        "timezone": "Europe/London",
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
    }
    if search:
        ctx["campaign"] = {
            "name": "june-newsletter",
            "source": "newsletter",
            "medium": "email",
        }
    return ctx


def make_event(rng: random.Random, when: datetime) -> dict[str, Any]:
    path, name, title = rng.choice(PAGES)
    known = rng.random() < 0.4
    event: dict[str, Any] = {
        "messageId": f"ajs-next-{uuid.UUID(int=rng.getrandbits(128)).hex}",
        "anonymousId": str(uuid.UUID(int=rng.getrandbits(128))),
        "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "sentAt": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "context": _context(rng, path, title),
        "integrations": {},
    }
    if known:
        event["userId"] = f"user-{rng.randrange(1, 50_000)}"
    kind = rng.choices(["page", "track", "identify"], weights=[6, 3, 1])[0]
    event["type"] = kind
    if kind == "page":
        event["name"] = name
        event["properties"] = {**event["context"]["page"], "name": name}
    elif kind == "track":
        event["event"], props = rng.choice(TRACKS)
        event["properties"] = dict(props)
    else:
        event["userId"] = event.get("userId") or f"user-{rng.randrange(1, 50_000)}"
        event["traits"] = {
            "email": f"person{rng.randrange(1, 50_000)}@example.org",
            "first_name": "Sam",
            "company": "Example Ltd",
            "plan": "trial",
        }
    return event


def make_bodies(seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    start = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    bodies = []
    for b in range(BATCHES):
        batch = [
            make_event(rng, start + timedelta(seconds=b * EVENTS_PER_BATCH + i))
            for i in range(EVENTS_PER_BATCH)
        ]
        sent = batch[-1]["sentAt"]
        # The write key goes in the Authorization header, as analytics.js sends it.
        body = {"batch": batch, "sentAt": sent}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


def api_event(body: bytes, n: int, path: str = "/v1/batch") -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for a POST to the ingest API."""
    auth = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "authorization": f"Basic {auth}",
            "content-type": "text/plain",
            "content-length": str(len(body)),
            "host": "api.example.com",
            "origin": "https://www.example.com",
            "user-agent": AGENTS[0],
            "x-forwarded-for": "203.0.113.7",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "api.example.com",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": AGENTS[0],
            },
            "requestId": f"bench-{n}",
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": "01/Jun/2026:09:00:00 +0000",
            "timeEpoch": 1780304400000,
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


# --- the Lambda side -------------------------------------------------------------------------


@dataclass
class LambdaContext:
    function_name: str = "nurture-IngestFunction"
    function_version: str = "$LATEST"
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:nurture-IngestFunction"
    )
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/nurture-IngestFunction"
    log_stream_name: str = "2026/06/01/[$LATEST]bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


# The Parameter Store secrets the handler reads (cached for minutes in a warm function, so a
# dictionary lookup stands in for them here).
BENCH_SECRETS = {
    "write-keys": json.dumps({WRITE_KEY: "public", "another-key-0002": "secret"}),
    "identity-verification-secret": "bench-identity-secret-0123456789",
    "link-signing-secrets": "bench-link-secret-0123456789",
}


def load_handler_module() -> Any:
    os.environ.update(HANDLER_ENV)  # before the import: the module reads its settings then
    import nurture.secrets

    nurture.secrets.secret = BENCH_SECRETS.__getitem__  # the handler imports it by name
    path = ROOT / "functions" / "ingest" / "app.py"
    spec = importlib.util.spec_from_file_location("ingest_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ingest_app"] = module
    spec.loader.exec_module(module)
    return module


# --- timing -----------------------------------------------------------------------------------


@dataclass
class Timing:
    best_us: float
    median_us: float
    runs: list[float]  # per repetition

    def times(self, base: Timing) -> float:
        """How many times the baseline: the median, over repetitions, of this row's time
        over the baseline's in the same repetition (measured one after the other, so both
        under the same load of a shared machine)."""
        return statistics.median(r / b for r, b in zip(self.runs, base.runs, strict=True))


@dataclass
class Row:
    call: Callable[[int], None]
    events_per_call: int
    calls: int  # per repetition
    elsewhere: Callable[[], float] = lambda: 0.0


def measure(rows: list[Row]) -> list[Timing]:
    """Per-event CPU microseconds of each row over REPEATS repetitions of its `calls` calls,
    less the CPU `elsewhere` counts (the stub answering as DynamoDB, on the other side of
    the wire). The rows take turns within each repetition, so that a ratio between two rows
    compares times taken moments apart."""
    for row in rows:
        for n in range(WARMUP_CALLS):
            row.call(n)
    runs: list[list[float]] = [[] for _ in rows]
    n = 0
    for _ in range(REPEATS):
        for row, times in zip(rows, runs, strict=True):
            started, away = time.process_time(), row.elsewhere()
            for _ in range(row.calls):
                row.call(n)
                n += 1
            spent = time.process_time() - started - (row.elsewhere() - away)
            times.append(spent / (row.calls * row.events_per_call) * 1e6)
    return [Timing(min(t), statistics.median(t), t) for t in runs]


def small_event_units(bodies: list[bytes], dynamo: Dynamo) -> list[int]:
    """The write units each stored item of an event under 1 KB (its JSON as sent) cost, as
    DynamoDB bills a put: 1 KB each, rounded up. Every item in the stub's tables counts, so
    any second item an event needed (a marker, an index entry) would show as well."""
    small = {
        e["messageId"] for b in bodies for e in json.loads(b)["batch"] if len(json.dumps(e)) < 1024
    }
    units: dict[str, int] = {}
    for partition in dynamo.partitions.values():
        for item in partition.values():
            doc = json.loads(item["doc"]["S"]) if "doc" in item else {}
            message_id = doc.get("message_id") or item["pk"]["S"].removeprefix("MSG#")
            if message_id in small:
                units[message_id] = units.get(message_id, 0) + math.ceil(item_bytes(item) / 1024)
    return list(units.values())


def _activities_of(body: bytes) -> list[Activity]:
    """The activities ingest stores for a body's events (as the in-memory row stores them)."""
    memory = InMemoryActivities()
    ingest_events(json.loads(body)["batch"], memory, within_budget=fits_budget(body))
    return list(memory.items.values())


def verdict(value: float, goal: float) -> str:
    return "ok" if value <= goal else "MISSED"


def main() -> None:
    bodies = make_bodies()
    sizes = [len(json.dumps(e)) for b in bodies for e in json.loads(b)["batch"]]
    api_events = [api_event(b, i) for i, b in enumerate(bodies)]
    adapter: TypeAdapter[Any] = TypeAdapter(InboundEvent)

    def baseline(n: int) -> None:
        for raw in json.loads(bodies[n % BATCHES])["batch"]:
            adapter.validate_python(raw)

    dynamo = Dynamo()
    stub_default_session(dynamo)  # before the import: the handler's own client is stubbed
    module = load_handler_module()
    handler, metrics, ctx = module.lambda_handler, module.metrics, LambdaContext()

    def call(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = handler(event, ctx)
        # With POWERTOOLS_METRICS_DISABLED, @log_metrics never clears the metric set; in
        # production it is flushed (and cleared) after every invocation.
        metrics.clear_metrics()
        return response

    def statuses(response: dict[str, Any]) -> list[str]:
        if response["statusCode"] != 200:
            raise SystemExit(f"HTTP {response['statusCode']}: {response.get('body')}")
        return [r["status"] for r in json.loads(response["body"])["results"]]

    def batch(n: int) -> None:
        dynamo.partitions.clear()  # every call stores 100 new events, as in production
        call(api_events[n % BATCHES])

    singles = [
        api_event(json.dumps(raw).encode(), i, f"/v1/{raw['type']}")
        for i, raw in enumerate(json.loads(bodies[0])["batch"])
    ]

    def single(n: int) -> None:
        dynamo.partitions.clear()
        call(singles[n % len(singles)])

    # Correctness first (not timed): every event is stored once, a re-sent batch stores
    # nothing and is answered "duplicate", and the units DynamoDB would bill are counted.
    dynamo.partitions.clear()
    dynamo.reset_counts()
    for event in api_events:
        if set(statuses(call(event))) != {"accepted"}:
            raise SystemExit("a fresh batch was not accepted whole")
    stored = dynamo.count()
    events = BATCHES * EVENTS_PER_BATCH
    write_units, read_units = dynamo.write_units / events, dynamo.read_units / events
    small = small_event_units(bodies, dynamo)
    calls_per_event = sum(dynamo.calls.values()) / events
    activities = sum(len(p) for (table, _), p in dynamo.partitions.items() if "activ" in table)
    if activities != events:
        raise SystemExit(f"{activities} activities stored for {events} events")
    if set(statuses(call(api_events[0]))) != {"duplicate"} or dynamo.count() != stored:
        raise SystemExit("a re-sent batch was stored again")

    memory = InMemoryActivities()

    # As the handler does them: the value budget screened over the whole body at once
    # (nurture.tracking.values.fits_budget), then each event validated.
    def parsed(n: int) -> None:
        body = bodies[n % BATCHES]
        screened = fits_budget(body)
        for raw in json.loads(body)["batch"]:
            parse_event(raw, within_budget=screened)

    def domain(n: int) -> None:
        memory.items.clear()
        body = bodies[n % BATCHES]
        ingest_events(json.loads(body)["batch"], memory, within_budget=fits_budget(body))

    dynamo.metering = False

    def stub_cpu() -> float:
        return dynamo.cpu

    # The floor of any design that validates each event and stores it as its own item: the
    # baseline, then only the bulk INSERTs of the same events' items (built beforehand, not
    # timed) on the handler's own client - DynamoDB takes 25 writes a call, and each call
    # costs botocore's fixed work (signing, hooks, endpoint, parsing) on top of serialising.
    store = module._activities()
    table = store._table
    prebuilt = [[store._item(a) for a in _activities_of(body)] for body in bodies]

    def floor(n: int) -> None:
        dynamo.partitions.clear()
        baseline(n)
        insert_new(store._db, table, prebuilt[n % BATCHES], Backoff())

    base, lowest, batched, one_by_one, validation, in_memory = measure(
        [
            Row(baseline, EVENTS_PER_BATCH, CALLS_PER_REPEAT),
            Row(floor, EVENTS_PER_BATCH, CALLS_PER_REPEAT, stub_cpu),
            Row(batch, EVENTS_PER_BATCH, CALLS_PER_REPEAT, stub_cpu),
            Row(single, 1, SINGLE_CALLS_PER_REPEAT, stub_cpu),
            Row(parsed, EVENTS_PER_BATCH, CALLS_PER_REPEAT),
            Row(domain, EVENTS_PER_BATCH, CALLS_PER_REPEAT),
        ]
    )

    # One 500-event batch, then the same with a third of its writes throttled.
    rng = random.Random(11)
    start = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
    big_events = [make_event(rng, start + timedelta(seconds=i)) for i in range(BIG_BATCH)]
    for e in big_events:  # a 500-event batch within the 500 KB limit: the lean context
        e["context"] = {k: v for k, v in e["context"].items() if k in ("page", "library")}
    big = api_event(json.dumps({"batch": big_events}).encode(), 99)

    waits: list[float] = []

    def big_run(throttled: int) -> tuple[float, float, int]:
        dynamo.partitions.clear()
        dynamo.reset_counts()
        dynamo.unprocessed = throttled
        waits.clear()
        sleep, time.sleep = time.sleep, waits.append  # the backoff's waits, added up
        try:
            cpu, away = time.process_time(), dynamo.cpu
            results = statuses(call(big))
            cpu = time.process_time() - cpu - (dynamo.cpu - away)
        finally:
            time.sleep = sleep
        if results.count("accepted") != BIG_BATCH:
            raise SystemExit(f"500-event batch: {results.count('accepted')} accepted")
        if dynamo.calls.get("TransactWriteItems"):
            raise SystemExit("a transaction on the ingest path")
        return cpu * 1000, sum(waits) * 1000, sum(dynamo.calls.values())

    big_run(0)  # warm-up
    big_cpu, _, big_calls = big_run(0)
    throttled_cpu, backing_off, throttled_calls = big_run(BIG_BATCH // 3)

    print(
        f"Python {sys.version.split()[0]}; {len(sizes)} distinct events, "
        f"{EVENTS_PER_BATCH} per /v1/batch call; event JSON {min(sizes)}-{max(sizes)} B "
        f"(mean {statistics.mean(sizes):.0f} B); a real botocore client, network stubbed"
    )
    print(
        f"{REPEATS} repetitions x {CALLS_PER_REPEAT} calls after {WARMUP_CALLS} warm-up calls;"
        f" CPU microseconds per event{' (smoke pass)' if SMOKE else ''}"
    )
    print()
    print(f"{'':44} {'best':>8} {'median':>8} {'x base':>7} {'goal':>7}")
    print(f"{'baseline: json.loads + TypeAdapter':44} {base.best_us:8.1f} {base.median_us:8.1f}")
    ratio = batched.times(base)
    print(
        f"{'ingest handler, /v1/batch (real adapter)':44} {batched.best_us:8.1f} "
        f"{batched.median_us:8.1f} {ratio:6.1f}x {'<= 3x':>7} {verdict(ratio, GOAL_RATIO)}"
        f" (was {BEFORE_RATIO})"
    )
    print(
        f"{'  one event per call (/v1/page etc.)':44} {one_by_one.best_us:8.1f} "
        f"{one_by_one.median_us:8.1f} {one_by_one.times(base):6.1f}x {'-':>7}"
    )
    floor_ratio = lowest.times(base)
    print(
        f"{'  floor: baseline + the bulk INSERTs alone':44} {lowest.best_us:8.1f} "
        f"{lowest.median_us:8.1f} {floor_ratio:6.1f}x {'-':>7}"
        + (" (the goal is below the floor)" if floor_ratio > GOAL_RATIO else "")
    )
    print("of which (no goal; where the rest of the time goes):")
    for label, t in (
        ("  json.loads + parse_event (validation)", validation),
        ("  json.loads + ingest_events, in-memory store", in_memory),
    ):
        print(f"{label:44} {t.best_us:8.1f} {t.median_us:8.1f} {t.times(base):6.1f}x")
    print()
    worst = max(small)
    print(
        f"DynamoDB per event under 1 KB ({len(small)} of {events}): at most {worst}"
        f" write units (goal <= {GOAL_WRITE_UNITS:.0f}: {verdict(worst, GOAL_WRITE_UNITS)};"
        f" mean {statistics.mean(small):.2f}; was {BEFORE_WRITE_UNITS} with the marker design)"
    )
    print(
        f"DynamoDB per event, all sizes: {write_units:.2f} write units, {read_units:.2f} read"
        f" units, {calls_per_event:.3f} calls"
    )
    for label, cpu, calls, extra in (
        ("500-event batch", big_cpu, big_calls, 0.0),
        (
            f"  {BIG_BATCH // 3} writes throttled",
            throttled_cpu,
            throttled_calls,
            backing_off,
        ),
    ):
        total = cpu + calls * ROUND_TRIP_MS + extra
        print(
            f"{label}: {cpu:.0f} ms CPU + {calls} calls x {ROUND_TRIP_MS:.0f} ms"
            + (f" + {extra:.0f} ms backing off" if extra else "")
            + f" = {total / 1000:.2f} s (goal: well inside the {TIMEOUT_S:.0f} s timeout,"
            f" <= {TIMEOUT_S / 2:.0f} s: "
            f"{verdict(total / 1000, TIMEOUT_S / 2)})"
        )


if __name__ == "__main__":
    main()
