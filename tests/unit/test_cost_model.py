"""The cost model behind `nurture cost`: DynamoDB request units by AWS's sizing rules, and
prices applied to measured counts (AWS's list prices, us-east-1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.commands.cost import estimate, memory_mb
from localcloud.metering import Run, item_size, read_units, write_units

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    assert item_size({"pk": {"S": "abc"}}) == 2 + 3
    assert item_size({"n": {"N": "12345"}}) == 1 + 1 + 3  # 5 digits: 3 bytes, +1
    assert item_size({"ok": {"BOOL": True}, "m": {"M": {"a": {"S": "é"}}}}) == 3 + 1 + 3 + 1 + 1 + 2


def test_request_units_round_up_per_kilobyte_and_per_four() -> None:
    assert [write_units(s) for s in (1, 1024, 1025, 3000)] == [1, 1, 2, 3]
    assert [read_units(s, True) for s in (1, 4096, 4097)] == [1.0, 1.0, 2.0]
    assert read_units(100, consistent=False) == 0.5  # eventually consistent: half


def test_prices_apply_to_measured_counts() -> None:
    run = Run(
        program_id="p",
        steps=9,
        transitions=9,
        executions=1,
        states=[],
        invocations={"StepsFunction": 5},
        api_calls={"s3.PutObject": 2},
        api_calls_in={"StepsFunction": 10},
        read_units=80.0,
        write_units=100.0,
        strong_reads=0,
        emails=5,
        sms=0,
        schedules=0,
        errors=[],
    )
    est = estimate(run, 1000, memory_mb(ROOT))
    assert est.cost["step_functions"] == pytest.approx(0.225)  # $0.025 per 1,000
    assert est.cost["dynamodb"] == pytest.approx(100 * 0.625e-3 + 80 * 0.125e-3)
    assert est.cost["s3"] == pytest.approx(2 * 0.005)
    # 5 invocations x 20 ms + 10 calls x 8 ms = 0.18 s at 512 MB (template Globals), arm64
    assert est.gb_seconds == pytest.approx(0.18 * 0.5)
    assert est.ses == pytest.approx(0.5)
