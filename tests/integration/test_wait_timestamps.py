"""A Wait until a timestamp ends at that moment on the local cloud, never before it, even
when the virtual clock stands between two whole seconds (moto waits `int(timestamp - now)`
seconds: 0 at 07:59:59.5 for 08:00:00, and a send deferred to a window's opening ran again
at once, was deferred again, and so on without end: `nurture simulate` stalled)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localcloud import LocalCloud

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

MACHINE = {
    "StartAt": "wait for it",
    "States": {
        "wait for it": {"Type": "Wait", "TimestampPath": "$.at", "Next": "done"},
        "done": {"Type": "Pass", "End": True},
    },
}


@pytest.mark.parametrize("fraction", [0, 1, 496511, 999999])
def test_a_timestamp_wait_ends_at_its_timestamp_not_before(fraction: int) -> None:
    start = datetime(2026, 1, 6, 7, 59, 58, fraction, tzinfo=UTC)
    with LocalCloud(start=start, frequent_schedules=False) as cloud:
        sfn = cloud.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="wait-test",
            definition=json.dumps(MACHINE),
            roleArn="arn:aws:iam::123456789012:role/test",
        )["stateMachineArn"]
        execution = sfn.start_execution(
            stateMachineArn=arn, input=json.dumps({"at": "2026-01-06T08:00:00Z"})
        )["executionArn"]

        def status() -> str:
            cloud.run_until_idle()
            return str(sfn.describe_execution(executionArn=execution)["status"])

        assert status() == "RUNNING"
        cloud.advance(timedelta(seconds=1))  # 07:59:59.x: still before the timestamp
        assert status() == "RUNNING"
        cloud.advance(timedelta(seconds=1))  # past 08:00:00
        assert cloud.clock.now() >= datetime(2026, 1, 6, 8, tzinfo=UTC)
        assert status() == "SUCCEEDED"


def test_clicked_contacts_deferred_to_the_send_window_finish_on_the_cloud_engine(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The run that stalled (a SettleTimeout): ten contacts who open and click; two of
    welcome-2a's sends fall in quiet hours and wait for the window's opening, one from a
    clock at 07:59:59.5."""
    from localcloud.cli import main

    code = main(
        [
            "simulate",
            str(ROOT / "programs/welcome.yaml"),
            *("--contacts", "10", "--days", "4", "--zones", "UTC=1", "--spread", "1 hour"),
            *("--consent", "1", "--open", "1", "--click", "1", "--seed", "4"),
            *("--engine", "cloud", "--no-progress"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"^\s+welcome-2a: 10$", out, re.MULTILINE), out  # every click, one send
    assert re.search(r"^\s+welcome-2a: quiet_hours: 2$", out, re.MULTILINE), out
