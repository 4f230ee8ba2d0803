"""The ingest function settles Python's cyclic collector after its first call in Lambda's
runtime (`functions/ingest/app.py` `_settle`: gc.freeze, young threshold raised), and only
there: the local cloud runs every function inside the test process, whose collector must be
left alone (a freeze there would keep every earlier cloud's garbage for good).

Each case runs in a fresh interpreter: the handler as the ingest bench loads it (its own
botocore client, the network answered by bench/dynamo_stub.py), one real batch, then the
collector's state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
sys.path.insert(0, "bench")
import ingest_per_event as bench
from dynamo_stub import Dynamo, stub_default_session
if sys.argv[1] == "elsewhere":
    del bench.HANDLER_ENV["AWS_EXECUTION_ENV"]
stub_default_session(Dynamo())
handler = bench.load_handler_module().lambda_handler
before = (gc.get_freeze_count(), gc.get_threshold()[0])
answer = handler(bench.api_event(bench.make_bodies()[0], 1), bench.LambdaContext())
print(json.dumps({"status": answer["statusCode"], "before": before,
                  "after": (gc.get_freeze_count(), gc.get_threshold()[0])}))
"""


def probe(where: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, where],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_in_lambda_the_first_call_freezes_what_the_cold_start_built() -> None:
    found = probe("lambda")
    assert found["status"] == 200
    before, after = found["before"], found["after"]
    assert isinstance(before, list) and isinstance(after, list)
    (frozen_before, young_before), (frozen_after, young_after) = before, after
    assert young_before == 700 and young_after == 5000
    assert frozen_after > frozen_before + 50_000  # modules, botocore's model, validators


def test_elsewhere_the_collector_is_left_as_it_was() -> None:
    found = probe("elsewhere")
    assert found["status"] == 200
    assert found["after"] == found["before"]
