"""`nurture simulate PROGRAM --contacts N`: many synthetic contacts on the local cloud."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from localcloud.cli import main

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def summary(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(
        [
            "simulate",
            str(ROOT / "programs/welcome.yaml"),
            "--contacts",
            "10",
            "--days",
            "4",
            "--zones",
            "UTC=1",
            "--spread",
            "1 hour",  # all enter inside the send window: no quiet-hours deferrals
            "--no-progress",
            *extra,
        ]
    )
    return code, capsys.readouterr().out


def count(out: str, label: str) -> int:
    match = re.search(rf"^\s+{re.escape(label)}: (\d+)", out, re.MULTILINE)
    assert match, f"no {label!r} in:\n{out}"
    return int(match.group(1))


def test_contacts_without_consent_are_skipped_with_the_reason_and_the_rest_get_welcome_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # About half have the newsletter consent the sends need; nobody clicks.
    code, out = summary(capsys, "--consent", "0.5", "--open", "0", "--seed", "4")
    assert code == 0, out
    assert count(out, "entries") == 10
    consenting = count(out, "welcome-1")
    assert 0 < consenting < 10
    assert count(out, "welcome-1: no_consent") == 10 - consenting
    # nobody clicks: everyone reaches the 3-day deadline; 2b is sent or skipped likewise
    assert count(out, "welcome-2b") == consenting
    assert count(out, "welcome-2b: no_consent") == 10 - consenting
    # Step Functions transitions are read from the executions' histories: at least the
    # first send, the wait and the deadline's send per contact
    assert count(out, "state transitions") >= 3 * 10
    assert "estimated AWS cost:" in out


@pytest.mark.parametrize("engine", ["fast", "cloud"])
def test_nobody_engages_so_the_deadline_sends_welcome_2b(
    capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    code, out = summary(capsys, "--consent", "1", "--open", "0", "--seed", "2", "--engine", engine)
    assert f"{engine} engine" in out
    assert code == 0, out
    assert count(out, "welcome-1") == 10
    assert count(out, "welcome-2b") == 10
    assert "welcome-2a:" not in out
    assert count(out, "opens") == 0
    assert count(out, "conversions") == 0


def test_a_mix_that_is_not_a_probability_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(ROOT / "programs/welcome.yaml"), "--contacts", "5", "--open", "2"])
    assert code == 2
    assert "--open is a probability" in capsys.readouterr().err


def test_the_fast_engine_runs_hundreds_of_contacts_for_a_month_with_a_cost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A smoke of the fast engine at a size the local cloud would take minutes for: every
    contact enters; with consent for all and a reply to every welcome-1, each gets
    welcome-1 and then 2a (clicked) or 2b (did not), and every run ends."""
    code = main(
        [
            "simulate",
            str(ROOT / "programs/welcome.yaml"),
            "--contacts",
            "300",
            "--days",
            "30",
            "--consent",
            "1",
            "--click",
            "0.5",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "fast engine" in out
    assert count(out, "entries") == 300
    assert count(out, "welcome-1") == 300
    assert count(out, "welcome-2a") + count(out, "welcome-2b") == 300
    assert 0 < count(out, "welcome-2a") < 300
    assert count(out, "opens") > 0
    # welcome-1, the wait, a branch's send and the end: at least 4 states per run
    assert count(out, "state transitions") >= 4 * 300
    cost = re.search(r"estimated AWS cost: \$([\d,]+\.\d+) \(Step Functions \$([\d,]+\.\d+)", out)
    assert cost, out
    total, steps = (float(g.replace(",", "")) for g in cost.groups())
    assert total >= steps > 0


def test_two_workers_give_the_same_summary_as_one(capsys: pytest.CaptureFixture[str]) -> None:
    """The fast engine shares the contacts between processes (one per core): no contact's
    run touches another's, so the summary is the same, count for count."""
    outs = []
    for workers in ("1", "2"):
        code = main(
            [
                "simulate",
                str(ROOT / "programs/welcome.yaml"),
                "--contacts",
                "200",
                "--days",
                "8",
                "--workers",
                workers,
                "--no-progress",
            ]
        )
        out = capsys.readouterr().out
        assert code == 0, out
        outs.append(out.splitlines()[1:])  # the first line has the timings
    assert outs[0] == outs[1]
    assert any("opens: " in line and "opens: 0," not in line for line in outs[0])
