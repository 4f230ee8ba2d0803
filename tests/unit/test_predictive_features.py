"""Features as of the cutoff: the SQL computes exactly what the ground truth is made of,
reads nothing after the cutoff (leakage), and renders for Athena."""

from __future__ import annotations

import gzip
import json
import math
from datetime import datetime, timedelta

import pytest
import sqlglot

from nurture.predictive import demo_data, features
from nurture.predictive.lake import feature_rows, open_lake
from nurture.reporting.lake import encode
from tests.unit.predictive_support import AS_OF, copy_of, demo_lake

LABELS = {"label", "horizon_passed", "converted_before"}


@pytest.fixture(scope="module")
def rows():
    return feature_rows(open_lake(demo_lake()), AS_OF)


def test_the_features_are_what_the_ground_truth_is_made_of(rows):
    """The truth's probability, recomputed from the SQL's features and the profile
    snapshot alone, is the one the generator wrote: same counts, same windows."""
    truth = demo_data.read_truth(demo_lake())
    checked = 0
    for r in rows:
        t = truth[r["contact_id"]]
        seen = {
            "pricing": r["pricing_views"],
            "pricing_14d": r["pricing_views_14d"],
            "solution": r["solution_views"],
            "case_study": r["case_study_views"],
            "blog": r["blog_views"],
            "careers": r["careers_views"],
            "guide": r["guide_downloads"],
            "demo": r["demo_requests"],
            "clicked": r["email_clicks"],
            "newsletter_opened": r["newsletter_opens"],
        }
        person = {
            "seniority": features.seniority(r["job_title"]),
            "industry": r["industry"],
            "employees": r["employees"],
            "country": r["account_country"],
            "free_mail": r["email_domain"] in features.FREE_MAIL,
        }
        p = demo_data.sigmoid(demo_data.true_logit(seen, person))
        if r["days_known"] >= demo_data.Options().observe_days - 1e-6:
            assert p == pytest.approx(t["p"], abs=2e-6), r["contact_id"]
            checked += 1
        if t["eligible"]:
            assert r["label"] == int(t["label"])
    assert checked > 2000


def test_nothing_after_the_cutoff_changes_a_feature(tmp_path, rows):
    """Leakage: give every contact a burst of buying signals just after its cutoff (and
    a conversion); every feature stays as it was, only the outcome may move."""
    root = copy_of(tmp_path)
    extra = []
    for r in rows:
        cutoff = datetime.fromisoformat(r["cutoff"])
        for n, minutes in enumerate((0, 1, 60, 60 * 24 * 3)):
            at = (cutoff + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            base = {c: None for c in ("message_id", "actors", "properties", "program_id")}
            extra.append(
                {
                    **base,
                    "id": f"late-{r['contact_id']}-{n}",
                    "actor": f"contact:{r['contact_id']}",
                    "contact_id": r["contact_id"],
                    "kind": "page",
                    "name": "pricing",
                    "ts": at,
                    "url": "https://x.example/pricing",
                }
            )
            extra.append(
                {
                    **base,
                    "id": f"late-demo-{r['contact_id']}-{n}",
                    "actor": f"contact:{r['contact_id']}",
                    "contact_id": r["contact_id"],
                    "kind": "track",
                    "name": "demo_requested",
                    "ts": at,
                }
            )
            extra.append(
                {
                    **base,
                    "id": f"late-won-{r['contact_id']}-{n}",
                    "actor": f"contact:{r['contact_id']}",
                    "contact_id": r["contact_id"],
                    "kind": "track",
                    "name": "Deal Won",
                    "ts": at,
                    "revenue": 1.0,
                }
            )
    by_day: dict[str, list] = {}
    for row in extra:
        by_day.setdefault(row["ts"][:10], []).append(row)
    for day, day_rows in by_day.items():
        folder = root / "lake" / "activities" / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "late.json.gz").write_bytes(encode(day_rows))
    after = {r["contact_id"]: r for r in feature_rows(open_lake(root), AS_OF)}
    moved_labels = 0
    for r in rows:
        a = after[r["contact_id"]]
        assert {k: v for k, v in a.items() if k not in LABELS} == {
            k: v for k, v in r.items() if k not in LABELS
        }
        moved_labels += a["label"] != r["label"]
    assert moved_labels > 1000  # the late rows were read: they made outcomes


def test_a_row_before_the_cutoff_does_change_the_features(tmp_path, rows):
    """The converse, so the leakage test can fail: one pricing view a minute before the
    cutoff is counted."""
    root = copy_of(tmp_path)
    r = rows[100]
    at = (datetime.fromisoformat(r["cutoff"]) - timedelta(minutes=1)).strftime(
        "%Y-%m-%d %H:%M:%S.000"
    )
    row = {
        "id": "early",
        "actor": f"contact:{r['contact_id']}",
        "contact_id": r["contact_id"],
        "kind": "page",
        "name": "pricing",
        "ts": at,
        "url": "https://x.example/pricing",
    }
    folder = root / "lake" / "activities" / f"dt={at[:10]}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "early.json.gz").write_bytes(encode([row]))
    after = {x["contact_id"]: x for x in feature_rows(open_lake(root), AS_OF)}
    assert after[r["contact_id"]]["pricing_views_14d"] == r["pricing_views_14d"] + 1


def test_the_query_renders_for_athena():
    text = features.render("2026-12-01 00:00:00", dialect="athena")
    parsed = sqlglot.parse_one(text, read="trino")
    assert parsed.find(sqlglot.exp.Placeholder) is None
    assert "INTERVAL '1' DAY" in text and ":as_of" not in text


def test_the_profile_snapshot_holds_no_personal_data():
    blob = (demo_lake() / "lake" / "profiles" / "contacts.json.gz").read_bytes()
    first = json.loads(gzip.decompress(blob).decode().splitlines()[0])
    assert set(first) == {
        "contact_id",
        "created_at",
        "job_title",
        "country",
        "account_id",
        "email_domain",
        "stage",
    }


def test_encoding_words():
    x = features.encode(
        {
            "pricing_views": 5,
            "pricing_views_14d": 3,
            "job_title": "VP Sales",
            "employees": 120,
            "email_domain": "gmail.com",
        }
    )
    assert x["pricing_views_older"] == 2 and x["seniority"] == "vp" and x["size"] == "50-249"
    assert x["email"] == "personal"
    assert features.words("pricing_views_14d", 3) == "viewed pricing 3× in the last 14 days"
    assert not math.isnan(features.log1p(0))


def test_an_erase_removes_the_person_from_the_profile_snapshot():
    from nurture.reporting.lake import erase_from_lake
    from nurture.reporting.ports import MemoryLake

    lake = MemoryLake()
    people = [{"contact_id": "c1", "job_title": "CEO"}, {"contact_id": "c2", "job_title": "VP"}]
    lake.put("lake/profiles/contacts.json.gz", encode(people))
    counts = erase_from_lake(lake, ["c1", "contact:c1"])
    assert counts["rows_removed"] == 1
    blob = lake.get("lake/profiles/contacts.json.gz")
    assert [json.loads(x)["contact_id"] for x in gzip.decompress(blob).decode().splitlines()] == [
        "c2"
    ]
