"""Throughput of the local HTTP API, and whether the local cloud keeps its pace as data grows.

The local server (`nurture local serve`, infra/localcloud/server.py) is what the demo, the
browser tests and the SDK tests talk to. Here real `/v1/batch` requests of 100 Segment events
(page views, tracked events and identifies of a few hundred visitors, about 0.5 KB each) are
posted over HTTP to a `LocalApi` on localhost, with the repository's forms, templates, scoring
models and programs live. Each request is answered after everything it causes has run: the
ingest function, the stream to the react and lake functions, any program it starts.

Rows:

After an untimed warm-up (the first quarter's worth of batches, over HTTP), the rows take
turns batch by batch (HTTP, in-process, HTTP, bridge off), so each sees batches of the same
mix, against tables as full: the share of known visitors, who cost more than anonymous ones,
grows all along the run (a baseline run first, on the emptier tables, was the cheaper row).

* in-process: every 4th batch through `LocalCloud.http` (no socket): the baseline;
* HTTP: through the server, events per second of wall time and of CPU time (`time.process_time`;
  the machine is shared, so CPU is the steadier figure), against the goal of 500 events/s;
* growth: the CPU per event of the last HTTP batches against the first, while the tables
  fill and visitors become known (a ratio near 1 means the cost does not depend on what is
  already stored);
* bridge off: every 4th batch goes over HTTP with DynamoDB's calls over moto's HTTP path
  (`localcloud.dynamo_bridge` off), so the bridge's effect is a ratio within one run (the
  rows above count the other batches only).

`BENCH_SMOKE=1` runs a short pass (what CI runs, to keep the bench working).
Run from the repository root: `.venv/bin/python bench/local_http.py [--batches N]`.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "infra"), str(ROOT / "layers" / "nurture"), str(ROOT)]

SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")
EVENTS_PER_BATCH = 100
GOAL_EVENTS_PER_SECOND = 500.0
VISITORS = 300
PATHS = ["/", "/pricing", "/blog/deliverability", "/features/journeys", "/docs/start"]


def make_batch(rng: random.Random, number: int) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    for i in range(EVENTS_PER_BATCH):
        visitor = rng.randrange(VISITORS)
        base: dict[str, Any] = {
            "anonymousId": f"anon-{visitor:05d}",
            "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
            "timestamp": "2026-01-05T09:00:00.000Z",
            "context": {
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36",
                "locale": "en-GB",
                "page": {"url": f"https://www.example.com{rng.choice(PATHS)}"},
            },
        }
        kind = (number * EVENTS_PER_BATCH + i) % 10
        if kind < 7:
            url = base["context"]["page"]["url"]
            events.append({**base, "type": "page", "name": "Page", "properties": {"url": url}})
        elif kind < 9:
            events.append(
                {
                    **base,
                    "type": "track",
                    "event": rng.choice(["Product Viewed", "Signed Up", "Video Played"]),
                    "properties": {"sku": f"SKU-{rng.randrange(50)}", "price": 19.5},
                }
            )
        else:
            events.append(
                {
                    **base,
                    "type": "identify",
                    "userId": f"user-{visitor:05d}",
                    "traits": {
                        "email": f"visitor{visitor}@example.com",
                        "first_name": "Ada",
                    },
                }
            )
    return {"batch": events}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4 if SMOKE else 40)
    args = parser.parse_args()
    logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(
        logging.CRITICAL
    )
    from localcloud import LocalCloud, dynamo_bridge
    from localcloud.server import LocalApi

    rng = random.Random(7)
    cloud = LocalCloud(frequent_schedules=False).start()
    try:
        cloud.sync_content()
        api = LocalApi(cloud, port=0, log=lambda _line: None).start()
        auth = "Basic " + base64.b64encode(b"local-write-key:").decode()
        headers = {"Content-Type": "application/json", "Authorization": auth}
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=600)

        def post(body: bytes) -> None:
            conn.request("POST", "/v1/batch", body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            if answer.status >= 300:
                raise SystemExit(f"/v1/batch answered {answer.status}: {data[:300]!r}")

        bodies = [json.dumps(make_batch(rng, n)).encode() for n in range(args.batches * 2 + 2)]
        # warm-up (first calls import and cache; the first visitors become known), untimed
        warm_up = 1 + max(1, args.batches // 4)
        for body in bodies[:warm_up]:
            post(body)
        # Then the rows take turns, batch by batch (HTTP, in-process, HTTP, bridge off), so
        # each sees the same batches' mix and tables as full: the share of known visitors
        # grows all along the run, and known visitors cost more than anonymous ones.
        per_batch: list[float] = []
        bridge_off: list[float] = []
        in_process: list[tuple[float, float]] = []
        wall = 0.0
        for number, body in enumerate(bodies[warm_up : warm_up + args.batches]):
            if number % 4 == 1:
                cpu0, wall0 = time.process_time(), time.perf_counter()
                status, _, answer = cloud.http("POST", "/v1/batch", body)
                assert status < 300, answer
                in_process.append((time.process_time() - cpu0, time.perf_counter() - wall0))
                continue
            off = number % 4 == 3
            bridged = dynamo_bridge.set_enabled(not off)
            started, wall_started = time.process_time(), time.perf_counter()
            try:
                post(body)
            finally:
                dynamo_bridge.set_enabled(bridged)
            (bridge_off if off else per_batch).append(time.process_time() - started)
            if not off:
                wall += time.perf_counter() - wall_started
        base_cpu = sum(c for c, _ in in_process) / (len(in_process) * EVENTS_PER_BATCH)
        base_wall = sum(w for _, w in in_process) / (len(in_process) * EVENTS_PER_BATCH)
        cpu = sum(per_batch)
        events = len(per_batch) * EVENTS_PER_BATCH
        conn.close()
        api.stop()
        errors = list(cloud.errors)
    finally:
        cloud.__exit__()
    tail = max(1, len(per_batch) // 4)
    first = sum(per_batch[:tail]) / tail / EVENTS_PER_BATCH
    last = sum(per_batch[-tail:]) / tail / EVENTS_PER_BATCH
    smoke = " (smoke pass)" if SMOKE else ""
    print(
        f"Local HTTP API, /v1/batch of {EVENTS_PER_BATCH} events, {args.batches * EVENTS_PER_BATCH}"
        f" events{smoke}"
    )
    print(f"  in-process baseline: {1 / base_cpu:8.0f} events/s CPU  {1 / base_wall:8.0f} wall")
    print(
        f"  HTTP:                {events / cpu:8.0f} events/s CPU  {events / wall:8.0f} wall"
        f"   goal >= {GOAL_EVENTS_PER_SECOND:.0f}/s; ratio to baseline (CPU) "
        f"{(events / cpu) * base_cpu:.2f}"
    )
    print(
        f"  growth: CPU per event {first * 1e6:.0f} us (first {tail} batches) -> "
        f"{last * 1e6:.0f} us (last {tail}): x{last / first:.2f}   goal ~1"
    )
    if bridge_off:
        off_rate = len(bridge_off) * EVENTS_PER_BATCH / sum(bridge_off)
        print(
            f"  bridge off (every 4th batch, DynamoDB over moto's HTTP path): {off_rate:8.0f}"
            f" events/s CPU; with the bridge x{(events / cpu) / off_rate:.2f}"
        )
    if errors:
        print(f"  function errors: {len(errors)}, first: {errors[0][:200]}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
