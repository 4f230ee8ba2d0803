"""Funnels and A/B results on hand-worked fixtures; the A/B confidence against statsmodels.

Program p, version 1, three runs entered on 2026-01-05 (and one in December, outside):
  e1  split A -> s-a sent, delivered, opened, clicked -> converted (goal bought)
  e2  split A -> s-a skipped (no_consent) -> stopped (no date to wait for)
  e3  split holdout -> ends
version 2, one run on 2026-01-06: split A -> s-a sent.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from reporting_fixtures import act, engine_of, lake_of
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from nurture.reporting import reports
from nurture.reporting.ports import ProgramInfo
from nurture.reporting.stats import holm, two_proportion_p

pytestmark = pytest.mark.unit
PERIOD = reports.Period(date(2026, 1, 1), date(2026, 1, 31))
PROGRAM = ProgramInfo(
    "p",
    definition={
        "id": "p",
        "goals": [{"name": "bought", "event": "purchase"}],
        "steps": [
            {
                "id": "pick",
                "type": "split",
                "variants": [
                    {"name": "A", "percent": 80, "next": "s-a"},
                    {"name": "holdout", "percent": 20, "next": "done"},
                ],
            },
            {"id": "s-a", "type": "send_email", "template": "t"},
            {"id": "done", "type": "end"},
        ],
    },
)


def run(when: str, execution: str, contact: str, version: str = "1") -> list:
    return [
        act(
            when,
            "program.entered",
            contact=contact,
            props={"program_id": "p", "version": version, "execution": execution},
        )
    ]


def step(when: str, name: str, execution: str, contact: str, step_id: str, **extra) -> object:
    return act(
        when,
        name,
        contact=contact,
        props={"program_id": "p", "step_id": step_id, "execution": execution, **extra},
    )


@pytest.fixture
def engine(tmp_path: Path):
    h = [
        *run("2025-12-01 09:00", "e0", "c0"),
        step("2025-12-01 09:00", "program.split", "e0", "c0", "pick", variant="A"),
        *run("2026-01-05 09:00", "e1", "c1"),
        step("2026-01-05 09:00", "program.split", "e1", "c1", "pick", variant="A"),
        step("2026-01-05 09:00", "email.sent", "e1", "c1", "s-a"),
        step("2026-01-05 09:01", "email.delivered", "e1", "c1", "s-a"),
        step("2026-01-05 10:00", "email.opened", "e1", "c1", "s-a"),
        step("2026-01-05 10:01", "email.opened", "e1", "c1", "s-a"),  # opened twice: one run
        step("2026-01-05 10:02", "email.clicked", "e1", "c1", "s-a"),
        act(
            "2026-01-06 09:00",
            "program.converted",
            contact="c1",
            props={"program_id": "p", "execution": "e1", "goal": "bought"},
        ),
        *run("2026-01-05 09:00", "e2", "c2"),
        step("2026-01-05 09:00", "program.split", "e2", "c2", "pick", variant="A"),
        step("2026-01-05 09:00", "email.skipped", "e2", "c2", "s-a", reason="no_consent"),
        step("2026-01-05 09:00", "program.stopped", "e2", "c2", "s-a", reason="no date"),
        *run("2026-01-05 09:00", "e3", "c3"),
        step("2026-01-05 09:00", "program.split", "e3", "c3", "pick", variant="holdout"),
        *run("2026-01-06 09:00", "e4", "c4", version="2"),
        step("2026-01-06 09:00", "program.split", "e4", "c4", "pick", variant="A"),
        step("2026-01-06 09:00", "email.sent", "e4", "c4", "s-a"),
    ]
    lake = lake_of(h, batch=3)
    for key, blob in lake_of(h, batch=7).objects.items():  # a retried batch wrote it again
        lake.put(key, blob)
    return engine_of(lake, tmp_path)


def test_funnel_per_version_with_sends_skips_conversions_and_exits(engine):
    result = reports.funnel(engine, "p", PERIOD, PROGRAM)
    v1, v2 = result["versions"]
    assert (v1["version"], v1["entered"], v1["converted"], v1["exited"]) == ("1", 3, 1, 1)
    assert v1["goals"] == {"bought": 1} and v1["exit_reasons"] == {"no date": 1}
    assert v1["conversion_rate"] == pytest.approx(1 / 3, abs=1e-6)
    pick, send = v1["steps"]  # in the program's order
    assert pick["step_id"] == "pick" and pick["reached"] == 3
    assert pick["variants"] == {"A": 2, "holdout": 1}
    assert send == {
        "step_id": "s-a",
        "reached": 2,
        "sent": 1,
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
        "skipped": 1,
        "skip_reasons": {"no_consent": 1},
    }
    assert (v2["version"], v2["entered"], v2["steps"][1]["sent"]) == ("2", 1, 1)


def test_holdout_shows_the_incremental_lift_of_the_treated(engine):
    (lift,) = reports.funnel(engine, "p", PERIOD, PROGRAM)["holdout"]
    # treated: A, 3 runs (e1, e2, e4), 1 converted; holdout: 1 run, none converted
    assert lift["treated"] == {
        "entrants": 3,
        "conversions": 1,
        "rate": pytest.approx(1 / 3, abs=1e-6),
    }
    assert lift["holdout"] == {"entrants": 1, "conversions": 0, "rate": 0.0}
    assert lift["lift"] == pytest.approx(1 / 3, abs=1e-6)
    assert lift["incremental_conversions"] == pytest.approx(1.0, abs=1e-3)


def test_ab_counts_per_variant(engine):
    (split,) = reports.ab(engine, "p", PERIOD, PROGRAM)["splits"]
    a, held = split["variants"]
    assert (a["variant"], a["control"], a["entrants"], a["conversions"], a["clickers"]) == (
        "A",
        True,
        3,
        1,
        1,
    )
    assert (held["variant"], held["holdout"], held["entrants"], held["conversions"]) == (
        "holdout",
        True,
        1,
        0,
    )
    assert held["uplift"] == -1.0


def test_statuses_are_each_contacts_furthest_step(engine):
    result = reports.statuses(engine, "p", PERIOD)
    assert result["counts"] == {"entered": 2, "sent": 1, "opened": 0, "clicked": 0, "converted": 1}
    assert [(c["contact_id"], c["status"]) for c in result["contacts"]] == [
        ("c1", "converted"),
        ("c4", "sent"),
        ("c2", "entered"),
        ("c3", "entered"),
    ]


def test_review_flags_live_programs_without_entries_or_conversions(engine):
    old = ProgramInfo("old", "live", "3", {"goals": [{"event": "x"}]}, "2024-01-01T00:00:00Z")
    result = reports.review(engine, [PROGRAM, old], date(2026, 1, 20), stale_days=20)
    rows = {r["program"]: r for r in result["programs"]}
    assert rows["p"]["last_entry"] == "2026-01-06T09:00:00Z"
    assert rows["p"]["last_conversion"] == "2026-01-06T09:00:00Z"
    assert rows["p"]["stale"] is False
    assert rows["old"]["stale"] and rows["old"]["stale_reasons"] == [
        "no entries in 20 days",
        "not edited in 365 days",
    ]
    later = {
        r["program"]: r for r in reports.review(engine, [PROGRAM], date(2026, 2, 1), 10)["programs"]
    }
    assert later["p"]["stale_reasons"] == ["no entries in 10 days"]


@pytest.mark.parametrize(
    "counts",
    [
        [(120, 1000), (150, 1000), (131, 1000)],
        [(30, 400), (45, 410), (20, 390), (38, 405)],
        [(5, 50), (9, 48)],
    ],
)
def test_ab_confidence_matches_statsmodels(counts):
    rows = [
        {"variant": name, "entrants": n, "conversions": c, "clickers": 0, "first_entry": None}
        for name, (c, n) in zip("ABCD", counts, strict=False)
    ]
    result = reports.split_result("pick", rows)
    control = counts[0]
    p_values = [
        proportions_ztest([c, control[0]], [n, control[1]], alternative="two-sided")[1]
        for c, n in counts[1:]
    ]
    adjusted = multipletests(p_values, method="holm")[1]
    for variant, reference in zip(result["variants"][1:], adjusted, strict=True):
        assert variant["confidence"] == pytest.approx(1 - reference, abs=1e-6)
    for (c, n), variant in zip(counts, result["variants"], strict=True):
        assert variant["rate"] == pytest.approx(c / n, abs=1e-6)
    assert result["variants"][1]["uplift"] == pytest.approx(
        (counts[1][0] / counts[1][1]) / (control[0] / control[1]) - 1, abs=1e-6
    )


def test_the_p_value_is_the_normal_tail_scipy_gives():
    from scipy.stats import norm

    # 120/1000 against 150/1000: pooled p = 0.135, z = -0.03 / sqrt(0.135 * 0.865 * 0.002)
    z = (0.12 - 0.15) / (0.135 * 0.865 * 0.002) ** 0.5
    assert two_proportion_p(120, 1000, 150, 1000) == pytest.approx(2 * norm.sf(abs(z)), rel=1e-12)


def test_stats_edge_cases():
    assert two_proportion_p(0, 0, 5, 10) == 1.0
    assert two_proportion_p(0, 10, 0, 10) == 1.0  # nothing converted: nothing to tell apart
    assert holm([0.01, 0.04, 0.03]) == pytest.approx(
        list(multipletests([0.01, 0.04, 0.03], method="holm")[1])
    )
