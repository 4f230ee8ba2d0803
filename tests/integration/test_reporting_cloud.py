"""The activity lake and reports on the local cloud: a real journey fills lake/ through the
stream consumer, DuckDB reads it; the admin API answers only IAM-signed requests; an
automatic A/B winner switches later entrants at the first check after its stated time."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from care import Person

from localcloud import LocalCloud
from localcloud.iam_auth import sign
from localcloud.server import LocalApi
from nurture.adapters.lake import S3Lake
from nurture.reporting import reports
from nurture.reporting.duckdb_engine import DuckDbEngine, copy_lake

pytestmark = pytest.mark.integration
MONTH = reports.Period(date(2026, 1, 1), date(2026, 1, 31))


def lake_engine(cloud: LocalCloud, root: Path) -> DuckDbEngine:
    copy_lake(S3Lake(cloud.client("s3"), cloud.bucket), root)
    return DuckDbEngine(root)


def test_a_journey_fills_the_lake_and_duckdb_reports_on_it(live: LocalCloud, tmp_path: Path):
    ada = Person(live, "ada@example.com")
    ada.page("https://example.com/pricing")
    ada.form("newsletter-signup", first_name="Ada", consent_newsletter=True)
    live.advance(timedelta(hours=1))
    live.click_email(ada.mail("Welcome"))
    live.advance(timedelta(days=1))

    keys = [
        o["Key"]
        for o in live.client("s3").list_objects_v2(Bucket=live.bucket, Prefix="lake/")["Contents"]
    ]
    assert keys and all(k.startswith("lake/activities/dt=2026-01-0") for k in keys)
    assert all(k.endswith(".json.gz") for k in keys)
    body = live.client("s3").get_object(Bucket=live.bucket, Key=keys[0])["Body"].read()
    first = json.loads(gzip.decompress(body).splitlines()[0])
    assert {"id", "name", "ts", "program_id", "properties"} <= first.keys()
    # no per-event objects: fewer objects than activities
    engine = lake_engine(live, tmp_path)
    total = engine.query("SELECT COUNT(*) AS n FROM activities")[0]["n"]
    assert len(keys) < total

    funnel = reports.funnel(engine, "welcome", MONTH)
    (version,) = funnel["versions"]
    assert version["entered"] == 1
    steps = {s["step_id"]: s for s in version["steps"]}
    assert steps["welcome-1"]["sent"] == 1 and steps["welcome-1"]["clicked"] == 1
    assert steps["welcome-2a"]["sent"] == 1
    # the run's end came from Step Functions' status change event (EventBridge)
    assert (version["exited"], version["exit_reasons"]) == (1, {"finished": 1})
    statuses = reports.statuses(engine, "welcome", MONTH)
    assert statuses["counts"]["clicked"] == 1
    assert statuses["contacts"][0]["contact_id"] == ada.contact().contact_id
    # the anonymous pricing visit before the form belongs to Ada
    ids = engine.query(
        "SELECT t.actor FROM activities AS a CROSS JOIN UNNEST(a.actors) AS t(actor)"
        " WHERE a.name = 'contact.identified'"
    )
    assert f"anon:{ada.anonymous_id}" in {r["actor"] for r in ids}


def _admin(cloud: LocalCloud, path: str, **sign_with: str):
    headers = sign("GET", f"http://localhost{path}", b"", **sign_with) if sign_with else {}
    return cloud.http("GET", path, headers=headers, write_key=None)


def test_the_admin_api_answers_only_iam_signed_requests(live: LocalCloud):
    Person(live, "bo@example.com").form("newsletter-signup", consent_newsletter=True)
    path = "/admin/reports/funnel?program=welcome&since=2026-01-01&until=2026-01-31"
    # no credentials; the public write key; another key; the right key, wrong secret
    assert live.http("GET", path, write_key=None)[0] == 403
    assert live.http("GET", path)[0] == 403
    assert _admin(live, path, access_key="AKIAOTHER")[0] == 403
    status, _, body = _admin(live, path, secret="not-the-secret")
    assert (status, body) == (403, {"message": "Forbidden"})
    # a signed request for another path than the one sent
    headers = sign("GET", "http://localhost/admin/reports/ab?program=welcome")
    assert live.http("GET", path, headers=headers, write_key=None)[0] == 403

    status, _, body = _admin(live, path, secret="local")
    assert status == 200, body
    assert body["report"] == "funnel" and body["versions"][0]["entered"] == 1
    status, _, body = _admin(
        live, "/admin/reports/funnel?program=Bad!&until=2026-13-01", secret="local"
    )
    assert status == 400
    assert {e["field"] for e in body["errors"]} == {"program", "until"}
    status, _, body = _admin(live, "/admin/reports/attribution?colour=red", secret="local")
    assert status == 400 and body["errors"][0]["field"] == "colour"
    assert _admin(live, "/admin/reports/everything", secret="local")[0] == 404
    for report in ("ab", "statuses"):
        status, _, body = _admin(live, f"/admin/reports/{report}?program=welcome", secret="local")
        assert status == 200 and body["report"] == report
    for report in ("attribution", "pipeline", "review"):
        status, _, body = _admin(live, f"/admin/reports/{report}", secret="local")
        assert status == 200 and body["report"] == report, body
    review = {p["program"]: p for p in body["programs"]}
    assert review["welcome"]["status"] == "live" and review["welcome"]["last_edited"]


AB_PROGRAM = """\
id: ab-test
name: Two welcome emails, the better one wins
status: live
trigger: {form: newsletter-signup}
goals: [{name: bought, event: purchase}]
steps:
  - id: pick
    type: split
    variants:
      - {name: A, percent: 50, next: send-a}
      - {name: B, percent: 50, next: send-b}
    auto_winner: {after: 2 days, min_per_variant: 2}
  - {id: send-a, type: send_email, template: welcome-1, purpose: service, next: later}
  - {id: send-b, type: send_email, template: welcome-2b, purpose: service, next: later}
  - {id: later, type: wait, duration: 20 days}
"""


def _variant(person: Person) -> str:
    (split,) = person.activities("program.split")
    return str(split.properties["variant"])


@pytest.mark.frequent_schedules
def test_the_automatic_winner_switches_later_entrants_at_the_first_check_after_its_time(
    cloud: LocalCloud,
):
    cloud.sync_content(only=[])
    cloud.upload("programs/ab-test.yaml", AB_PROGRAM)
    assert json.loads(cloud.read("programs/ab-test.status.json") or "{}")["status"] == "live"
    start = cloud.clock.now()  # Monday 09:00
    # contact ids are random, so the split is too: sign people up until each variant has 2
    people: list[Person] = []
    variants: dict[str, str] = {}
    while min(list(variants.values()).count(v) for v in "AB") < 2:
        assert len(people) < 40, variants
        person = Person(cloud, f"p{len(people)}@example.com")
        person.form("newsletter-signup", consent_newsletter=True)
        people.append(person)
        variants[person.email] = _variant(person)
    for person in people:
        if variants[person.email] == "B":
            person.track("purchase", total=10)  # every B entrant converts, no A entrant does

    # Before the stated 2 days have passed, new entrants are still split
    cloud.advance(timedelta(days=2) - timedelta(minutes=30))
    decisions = [a for a in _program_activities(cloud) if a["name"] == "program.split_decided"]
    assert decisions == []
    # At the first check (daily, WinnerCheckRate) at or after start + 2 days, B wins
    cloud.advance(timedelta(hours=1))
    (decided,) = [a for a in _program_activities(cloud) if a["name"] == "program.split_decided"]
    props = decided["properties"]
    assert props["winner"] == "B" and props["step_id"] == "pick"
    decided_at = datetime.fromisoformat(props["decided_at"].replace("Z", "+00:00"))
    assert decided_at == start + timedelta(days=2)
    figures = {f["variant"]: f for f in props["figures"]}
    a_n, b_n = list(variants.values()).count("A"), list(variants.values()).count("B")
    assert (figures["A"]["entrants"], figures["A"]["conversions"]) == (a_n, 0)
    assert (figures["B"]["entrants"], figures["B"]["conversions"]) == (b_n, b_n)
    assert figures["B"]["rate"] == 1.0 and figures["A"]["rate"] == 0.0

    # Every later entrant goes to the winner
    late = [Person(cloud, f"late{i}@example.com") for i in range(6)]
    for person in late:
        person.form("newsletter-signup", consent_newsletter=True)
    assert {_variant(p) for p in late} == {"B"}
    assert all("In a hurry" in p.subjects()[0] for p in late)


def _program_activities(cloud: LocalCloud) -> list[dict]:
    items = cloud.client("dynamodb").query(
        TableName=cloud.resolver.refs["ActivitiesTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "program:ab-test"}},
    )["Items"]
    return [json.loads(i["doc"]["S"]) for i in items]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (7.75+ signs SigV4)")
def test_curl_signing_with_the_local_credentials_reaches_the_admin_api(live: LocalCloud):
    # curl's own SigV4 signer (not botocore) against the local server `make demo` runs
    Person(live, "cy@example.com").form("newsletter-signup", consent_newsletter=True)
    api = LocalApi(live, port=0, log=lambda line: None).start()
    try:
        url = f"{api.url}/admin/reports/statuses?program=welcome&since=2026-01-01&until=2026-01-31"

        def curl(*args: str) -> tuple[int, str]:
            done = subprocess.run(
                ["curl", "-s", "-w", "\\n%{http_code}", *args, url],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            body, _, code = done.stdout.rpartition("\n")
            return int(code), body

        status, body = curl("--aws-sigv4", "aws:amz:us-east-1:execute-api", "--user", "local:local")
        assert status == 200, body
        assert json.loads(body)["counts"]["sent"] == 1
        assert (
            curl("--aws-sigv4", "aws:amz:us-east-1:execute-api", "--user", "local:wrong")[0] == 403
        )
        assert curl("--user", "local-write-key:")[0] == 403
    finally:
        api.stop()
