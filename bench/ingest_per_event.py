"""Per-event CPU cost of the ingest API, against the floor of parsing and validating the events.

Every page view, identify and tracked event on a customer's site goes through the ingest
function (`functions/ingest/app.py`), so its per-event cost is what Nurture's bill scales
with. This benchmark runs in one process, with no network and no AWS:

* baseline: `json.loads` of a /v1/batch body plus pydantic validation of each event with a
  `TypeAdapter` over `nurture.tracking.events.InboundEvent` (the least any implementation must do);
* domain: `json.loads` plus `nurture.tracking.ingest.ingest_events` (validation, the size check,
  `to_activity`, result models) into an in-memory store;
* handler: the whole Lambda handler (powertools logger/tracer/metrics decorators, the
  APIGatewayHttpResolver routing, base64 body, Basic-auth write key, per-event results JSON),
  called with an API Gateway HTTP API v2 event; its module-level `activities` store is
  replaced by an in-memory fake, so no AWS call is made or timed; also with one event per
  call (/v1/page, /v1/track, /v1/identify), as analytics.js sends them without batching;
* the DynamoDB adapter's item building (`DynamoActivities.put_new`: `_guard` + `_item`) on a
  fake client that only records the calls.

Events are realistic Segment track/page/identify calls (context.page, campaign, user agent,
properties; about 0.7-1.3 KB each), posted 100 per /v1/batch call. Timings use
`time.perf_counter`, with a warm-up and several repetitions; the best and the median
repetition are reported in microseconds per event, with ratios to the baseline.

Run from the repository root: `.venv/bin/python bench/ingest_per_event.py`.
"""

from __future__ import annotations

import base64
import importlib.util
import json
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

from pydantic import TypeAdapter

from localcloud.fakes import InMemoryActivities
from nurture.adapters.dynamodb import DynamoActivities
from nurture.tracking.events import InboundEvent, parse_event, to_activity
from nurture.tracking.ingest import ingest_events

ROOT = Path(__file__).resolve().parent.parent
WRITE_KEY = "bench-write-key-0001"
EVENTS_PER_BATCH = 100
BATCHES = 10  # distinct request bodies, cycled through
CALLS_PER_REPEAT = 20  # /v1/batch calls per timed repetition (2,000 events)
SINGLE_CALLS_PER_REPEAT = 500  # single-event /v1/page|track|identify calls per repetition
REPEATS = 9
WARMUP_CALLS = 5

# What the ingest function reads at import (nurture.settings.IngestSettings) and what powertools
# and boto3 need, set before the handler module is imported.
HANDLER_ENV = {
    "SECRETS_PATH": "/nurture/bench",
    "ACTIVITIES_TABLE": "bench-activities",
    "STATE_TABLE": "bench-state",
    "CONTENT_BUCKET": "bench-content",
    "ALLOWED_ORIGINS": "https://www.example.com",
    "POWERTOOLS_SERVICE_NAME": "nurture",
    "POWERTOOLS_METRICS_NAMESPACE": "Nurture",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_LOGGER_LOG_EVENT": "false",
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
    ("/blog/email-deliverability-checklist", "Blog Post", "The email deliverability checklist"),
    ("/features/journeys", "Features", "Journeys that follow your customers — Acme"),
    ("/docs/getting-started", "Docs", "Getting started — Acme docs"),
    ("/signup", "Signup", "Start your free trial — Acme"),
]
REFERRERS = ["https://www.google.com/", "https://news.ycombinator.com/", "", "https://t.co/abc"]
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
        ctx["campaign"] = {"name": "june-newsletter", "source": "newsletter", "medium": "email"}
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


# --- in-memory fakes --------------------------------------------------------------------------


class RecordingDynamo:
    """Stands in for a boto3 DynamoDB client: records each call, always succeeds."""

    class exceptions:  # noqa: N801 (mirrors boto3's client.exceptions namespace)
        class TransactionCanceledException(Exception):
            response: dict[str, Any] = {}

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {}


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


def measure(
    call: Callable[[int], None], events_per_call: int, calls: int = CALLS_PER_REPEAT
) -> Timing:
    """Per-event microseconds over REPEATS repetitions of `calls` calls each."""
    for n in range(WARMUP_CALLS):
        call(n)
    per_event = []
    n = 0
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(calls):
            call(n)
            n += 1
        elapsed = time.perf_counter() - started
        per_event.append(elapsed / (calls * events_per_call) * 1e6)
    return Timing(min(per_event), statistics.median(per_event))


def main() -> None:
    bodies = make_bodies()
    sizes = [len(json.dumps(e)) for b in bodies for e in json.loads(b)["batch"]]
    api_events = [api_event(b, i) for i, b in enumerate(bodies)]

    adapter: TypeAdapter[Any] = TypeAdapter(InboundEvent)

    def baseline(n: int) -> None:
        for raw in json.loads(bodies[n % BATCHES])["batch"]:
            adapter.validate_python(raw)

    def parse_only(n: int) -> None:
        for raw in json.loads(bodies[n % BATCHES])["batch"]:
            parse_event(raw)

    domain_store = InMemoryActivities()

    def domain(n: int) -> None:
        domain_store.items.clear()  # every call stores 100 new events, as in production
        ingest_events(json.loads(bodies[n % BATCHES])["batch"], domain_store)

    module = load_handler_module()
    store = InMemoryActivities()
    module.activities = store
    handler = module.lambda_handler
    ctx = LambdaContext()

    # With POWERTOOLS_METRICS_DISABLED, @log_metrics never clears the metric set, so it would
    # grow across invocations and powertools prints it on reaching 100 values; in production
    # it is flushed (and cleared) after every invocation. Clearing it keeps the runs alike.
    metrics = module.metrics

    def full_handler(n: int) -> None:
        store.items.clear()  # every call stores 100 new events, as in production
        handler(api_events[n % BATCHES], ctx)
        metrics.clear_metrics()

    # analytics.js without the batching plugin sends one call per page view or event.
    singles = [
        api_event(json.dumps(raw).encode(), i, f"/v1/{raw['type']}")
        for i, raw in enumerate(json.loads(bodies[0])["batch"])
    ]

    def single_handler(n: int) -> None:
        store.items.clear()
        handler(singles[n % len(singles)], ctx)
        metrics.clear_metrics()

    # Sanity check (not a timing): the handler accepts every event, batched or single.
    for i, ev in enumerate(api_events + singles):
        store.items.clear()
        resp = handler(ev, ctx)
        metrics.clear_metrics()
        results = json.loads(resp["body"])["results"]
        accepted = sum(r["status"] == "accepted" for r in results)
        if resp["statusCode"] != 200 or accepted != len(results):
            raise SystemExit(f"call {i}: HTTP {resp['statusCode']}, {accepted} accepted: {resp}")

    activities = [
        to_activity(parse_event(raw), raw) for body in bodies for raw in json.loads(body)["batch"]
    ]
    client = RecordingDynamo()
    dynamo = DynamoActivities(client, "bench-activities", "bench-state")

    def dynamo_items(n: int) -> None:
        client.calls.clear()
        start = (n % BATCHES) * EVENTS_PER_BATCH
        dynamo.put_many_new(activities[start : start + EVENTS_PER_BATCH])

    def item_only(n: int) -> None:
        start = (n % BATCHES) * EVENTS_PER_BATCH
        for a in activities[start : start + EVENTS_PER_BATCH]:
            dynamo._item(a)

    def guard_only(n: int) -> None:
        start = (n % BATCHES) * EVENTS_PER_BATCH
        for a in activities[start : start + EVENTS_PER_BATCH]:
            dynamo._guard(a)

    base = measure(baseline, EVENTS_PER_BATCH)
    rows = [
        ("baseline json.loads + TypeAdapter", base),
        ("json.loads + parse_event", measure(parse_only, EVENTS_PER_BATCH)),
        ("json.loads + ingest_events (fake store)", measure(domain, EVENTS_PER_BATCH)),
        ("ingest lambda_handler (fake store)", measure(full_handler, EVENTS_PER_BATCH)),
        (
            "  same, one event per call (/v1/page etc.)",
            measure(single_handler, 1, SINGLE_CALLS_PER_REPEAT),
        ),
    ]
    adapter_rows = [
        ("DynamoActivities.put_new (recording client)", measure(dynamo_items, EVENTS_PER_BATCH)),
        ("  of which _item (model_dump_json)", measure(item_only, EVENTS_PER_BATCH)),
        ("  of which _guard (_epoch)", measure(guard_only, EVENTS_PER_BATCH)),
    ]

    print(
        f"Python {sys.version.split()[0]}; {len(sizes)} distinct events, "
        f"{EVENTS_PER_BATCH} per /v1/batch call; event JSON {min(sizes)}-{max(sizes)} B "
        f"(mean {statistics.mean(sizes):.0f} B); body {len(bodies[0]) / 1024:.0f} KB"
    )
    print(
        f"{REPEATS} repetitions x {CALLS_PER_REPEAT} calls x {EVENTS_PER_BATCH} events "
        f"after {WARMUP_CALLS} warm-up calls; microseconds per event"
    )
    print()
    print(f"{'':46} {'best':>8} {'median':>8} {'x base':>7}")
    for label, t in rows + adapter_rows:
        ratio = t.median_us / base.median_us
        print(f"{label:46} {t.best_us:8.1f} {t.median_us:8.1f} {ratio:6.1f}x")
    handler_t = rows[3][1]
    print()
    print(
        f"ingest handler: {handler_t.median_us:.1f} us/event; "
        f"baseline json+pydantic: {base.median_us:.1f} us/event; "
        f"ratio {handler_t.median_us / base.median_us:.1f}x (medians)"
    )
    put_t = adapter_rows[0][1]
    print(
        f"+ DynamoDB item building: {put_t.median_us:.1f} us/event "
        f"(handler + adapter {(handler_t.median_us + put_t.median_us) / base.median_us:.1f}x base)"
    )


if __name__ == "__main__":
    main()
