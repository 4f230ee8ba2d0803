"""Attribution and the contact-level reports on a hand-worked history.

Contact c1 (visitor anon:v1, later user:u1): four touches, then an order of 1000.
  t1 01-01 10:00 page with utm spring / cpc / ad1   (anonymous; joined by the form)
  t2 01-02 10:00 form guide-download                 (creates the contact: lead creation)
  t3 01-04 10:00 email.clicked welcome / welcome-1   (last touch before MQL on 01-05)
  t4 01-06 10:00 page, referred by news.example.org  (after the MQL)
  order 01-08 10:00, revenue 1000; ages 7, 6, 4 and 2 days.
Contact c2: a CRM deal won of 50 with no touch at all -> '(direct)'.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from reporting_fixtures import act, engine_of, lake_of

from nurture.reporting import reports

pytestmark = pytest.mark.unit
PERIOD = reports.Period(date(2026, 1, 1), date(2026, 1, 31))


@pytest.fixture
def engine(tmp_path: Path):
    history = [
        act(
            "2026-01-01 10:00",
            "landing",
            actor="anon:v1",
            kind="page",
            page={
                "url": "https://example.com/spring",
                "utm": {"name": "spring", "medium": "cpc", "source": "google", "content": "ad1"},
            },
        ),
        act("2026-01-02 10:00", "guide-download", actor="anon:v1", kind="form"),
        act(
            "2026-01-02 10:00",
            "contact.identified",
            contact="c1",
            props={"created": True, "actors": ["anon:v1", "email:a@example.com", "user:u1"]},
        ),
        act(
            "2026-01-02 11:00",
            "contact.stage_changed",
            contact="c1",
            props={"from": "subscriber", "to": "lead"},
        ),
        act(
            "2026-01-04 10:00",
            "email.clicked",
            contact="c1",
            props={"program_id": "welcome", "step_id": "welcome-1", "execution": "e1"},
        ),
        act(
            "2026-01-05 10:00",
            "contact.stage_changed",
            contact="c1",
            props={"from": "lead", "to": "mql"},
        ),
        act(
            "2026-01-05 10:30",
            "lead.accepted",
            contact="c1",
            props={"mql_to_accepted_seconds": 1800},
        ),
        act(
            "2026-01-06 10:00",
            "pricing",
            actor="anon:v1",
            kind="page",
            page={
                "url": "https://example.com/pricing",
                "referrer": "https://news.example.org/story",
            },
        ),
        # a page on the site itself is no referral touch
        act(
            "2026-01-06 10:05",
            "docs",
            actor="anon:v1",
            kind="page",
            page={"url": "https://example.com/docs", "referrer": "https://www.example.com/pricing"},
        ),
        act(
            "2026-01-08 10:00",
            "Order Completed",
            actor="user:u1",
            kind="track",
            props={"revenue": 1000, "currency": "EUR"},
        ),
        act(
            "2026-01-09 10:00",
            "contact.identified",
            contact="c2",
            props={"created": True, "actors": ["email:b@example.com"]},
        ),
        act("2026-01-20 10:00", "Deal Won", contact="c2", kind="track", props={"amount": "50"}),
    ]
    # every activity written twice, in differently cut batches (a retried, bisected batch)
    lake = lake_of(history, batch=4)
    for key, blob in lake_of(history, batch=5).objects.items():
        lake.put(key, blob)
    return engine_of(lake, tmp_path)


def by(report: dict, key: str) -> dict:
    return {row[key]: row for row in report["rows"]}


def test_every_model_credits_the_touches_as_worked_out_by_hand(engine):
    result = reports.attribution(engine, PERIOD, "channel", lookback_days=90, half_life_days=7)
    rows = by(result, "channel")
    assert result["revenue"] == 1050
    assert set(rows) == {"cpc", "form", "email", "referral", "(direct)"}
    # first / last touch
    assert [rows[c]["first_touch"] for c in ("cpc", "form", "email", "referral")] == [1000, 0, 0, 0]
    assert [rows[c]["last_touch"] for c in ("cpc", "form", "email", "referral")] == [0, 0, 0, 1000]
    # linear: 4 touches, 250 each
    assert [rows[c]["linear"] for c in ("cpc", "form", "email", "referral")] == [250] * 4
    # U-shaped: 40 / 20 shared by the middle two / 40
    assert [rows[c]["u_shaped"] for c in ("cpc", "form", "email", "referral")] == [
        400,
        100,
        100,
        400,
    ]
    # W-shaped: first touch (t1), lead creation (t2), MQL (t3) 30% each, the rest 10%
    assert [rows[c]["w_shaped"] for c in ("cpc", "form", "email", "referral")] == [
        300,
        300,
        300,
        100,
    ]
    # time decay, half-life 7 days: weights 2^(-age/7) for ages 7, 6, 4, 2 days
    weights = [2 ** (-7 / 7), 2 ** (-6 / 7), 2 ** (-4 / 7), 2 ** (-2 / 7)]
    expected = [round(1000 * w / sum(weights), 2) for w in weights]
    assert expected == [196.44, 216.89, 264.39, 322.29]
    assert [rows[c]["time_decay"] for c in ("cpc", "form", "email", "referral")] == expected
    # the deal with no touch is direct revenue, in every model
    assert all(rows["(direct)"][m] == 50 for m in reports.MODELS)
    for model in reports.MODELS:  # each row is rounded to cents: at most half a cent off
        total = sum(r[model] for r in result["rows"])
        assert total == pytest.approx(1050, abs=0.005 * len(result["rows"]))


def test_grouping_by_program_campaign_and_content(engine):
    programs = by(reports.attribution(engine, PERIOD, "program"), "program")
    assert programs["welcome"]["linear"] == 250  # the clicked program email
    assert programs["(none)"]["linear"] == 750
    assert programs["(direct)"]["linear"] == 50
    campaigns = by(reports.attribution(engine, PERIOD, "campaign"), "campaign")
    assert campaigns["spring"]["first_touch"] == 1000
    assert campaigns["welcome"]["w_shaped"] == 300
    content = by(reports.attribution(engine, PERIOD, "content"), "content")
    assert content["ad1"]["u_shaped"] == 400
    assert content["guide-download"]["w_shaped"] == 300
    assert content["news.example.org"]["last_touch"] == 1000


def test_the_lookback_window_leaves_older_touches_out(engine):
    rows = by(reports.attribution(engine, PERIOD, "channel", lookback_days=5), "channel")
    # only t3 (4 days before) and t4 (2 days) are in a 5-day window
    assert rows["email"]["linear"] == 500 and rows["referral"]["linear"] == 500
    assert rows["email"]["first_touch"] == 1000 and rows["referral"]["last_touch"] == 1000
    assert "cpc" not in rows and "form" not in rows
    # W-shaped: no touch before the contact was created (no lead-creation milestone); t3 is
    # both the first touch and the MQL touch: 0.3 + 0.3; t4 gets 0.1; scaled by 1 / 0.7
    assert rows["email"]["w_shaped"] == round(1000 * 0.6 / 0.7, 2) == 857.14
    assert rows["referral"]["w_shaped"] == round(1000 * 0.1 / 0.7, 2) == 142.86


def test_which_touch_created_the_contact(engine):
    rows = by(reports.created_by(engine, PERIOD, "channel"), "channel")
    assert rows == {
        "form": {"channel": "form", "contacts": 1},
        "(direct)": {"channel": "(direct)", "contacts": 1},
    }


def test_pipeline_per_week_and_source_with_speed_to_lead(engine):
    rows = reports.pipeline(engine, PERIOD)["rows"]
    table = {(r["week"], r["source"]): r for r in rows}
    # 2026-01-02 is in the week of Monday 2025-12-29; the MQL on Monday 2026-01-05
    first = table[("2025-12-29", "form")]
    assert (first["new_contacts"], first["leads"], first["mqls"]) == (1, 1, 0)
    second = table[("2026-01-05", "form")]
    assert (second["mqls"], second["leads_accepted"], second["avg_response_seconds"]) == (
        1,
        1,
        1800.0,
    )
    assert table[("2026-01-05", "(direct)")]["new_contacts"] == 1
