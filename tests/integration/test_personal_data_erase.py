"""Personal data on the local cloud (GDPR, #12): the admin API's export gives one bundle of
everything held about a person behind a short-lived signed URL; erase leaves nothing about
them in any table, the bucket (the lake included) or the schedules, stops their runs, and
keeps only a hashed suppression that stops any later mail to the address. Both routes answer
only SigV4-signed requests."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from localcloud import LocalCloud
from localcloud.iam_auth import sign
from nurture.adapters.delivery import DynamoDelivery
from tests.integration.signup import sign_up

pytestmark = pytest.mark.integration

# A run that pauses for years: its resume is a one-time schedule naming the contact.
REPURCHASE = """\
id: repurchase
name: Repurchase cycle
trigger: {event: consent.confirmed, where: {form: newsletter-signup}}
steps:
  - {id: thanks, type: send_email, template: welcome-1, topic: newsletter}
  - {id: cycle, type: wait, duration: 4 years}
  - {id: renew, type: send_email, template: welcome-2a, topic: newsletter}
"""
ADA = "ada@example.com"


@pytest.fixture
def local() -> Iterator[LocalCloud]:
    cloud = LocalCloud(frequent_schedules=False).start()
    try:
        # versioned as the template asks (VersioningConfiguration), from the start
        versioning = cloud.client("s3").get_bucket_versioning(Bucket=cloud.bucket)
        assert versioning["Status"] == "Enabled"
        cloud.sync_content(only=["welcome"])
        cloud.upload("programs/repurchase.yaml", REPURCHASE)
        yield cloud
    finally:
        cloud.__exit__()


def admin(cloud: LocalCloud, path: str, body: Any, **sign_with: str) -> tuple[int, Any]:
    data = json.dumps(body).encode()
    headers = sign("POST", f"http://localhost{path}", data, **sign_with) if sign_with else {}
    headers["content-type"] = "application/json"
    status, _, answer = cloud.http("POST", path, data, headers=headers, write_key=None)
    return status, answer


def person(cloud: LocalCloud, email: str, anon: str) -> None:
    body = {"email": email, "first_name": "Ada", "consent_newsletter": True, "anonymousId": anon}
    sign_up(cloud, body)


def everything(cloud: LocalCloud) -> list[tuple[str, str]]:
    """(where, text) for every item of every table, every object of the bucket and every
    schedule: a full read, as an auditor would do it."""
    out: list[tuple[str, str]] = []
    db = cloud.client("dynamodb")
    for table in db.list_tables()["TableNames"]:
        for page in db.get_paginator("scan").paginate(TableName=table):
            out.extend((table, json.dumps(item)) for item in page.get("Items", []))
    s3 = cloud.client("s3")
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        # every version, the replaced ones included (the bucket is versioned)
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for obj in page.get("Versions", []):
                raw = s3.get_object(Bucket=bucket, Key=obj["Key"], VersionId=obj["VersionId"])[
                    "Body"
                ].read()
                if obj["Key"].endswith(".gz"):
                    raw = gzip.decompress(raw)
                out.append(
                    (f"s3://{bucket}/{obj['Key']}", obj["Key"] + raw.decode("utf-8", "replace"))
                )
    scheduler = cloud.client("scheduler")
    for group in scheduler.list_schedule_groups()["ScheduleGroups"]:
        for s in scheduler.list_schedules(GroupName=group["Name"])["Schedules"]:
            got = scheduler.get_schedule(Name=s["Name"], GroupName=group["Name"])
            out.append((f"schedule {s['Name']}", json.dumps(got, default=str)))
    return out


def mentions(cloud: LocalCloud, needles: list[str]) -> list[str]:
    return [where for where, text in everything(cloud) if any(n in text for n in needles)]


def test_export_then_erase_leaves_nothing_but_a_hash(local: LocalCloud) -> None:
    person(local, ADA, "v-ada")
    person(local, "bo@example.com", "v-bo")  # someone else, who must stay untouched
    [welcome_mail] = [
        e for e in local.outbox if e.to == [ADA] and e.tags.get("step_id") == "thanks"
    ]
    local.click_email(welcome_mail)  # the repurchase email: welcome's wait stays pending
    local.advance(timedelta(hours=2))
    contact_id = local.client("dynamodb").get_item(
        TableName=local.resolver.refs["ContactsTable"],
        Key={"pk": {"S": f"ACTOR#email:{ADA}"}, "sk": {"S": "CONTACT"}},
    )["Item"]["contact_id"]["S"]
    needles = [ADA, contact_id, "v-ada"]
    before = mentions(local, needles)
    assert any("lake/" in w for w in before) and any(w.startswith("schedule") for w in before)
    sfn = local.client("stepfunctions")
    welcome_arn = json.loads(local.read("programs/welcome.status.json") or "{}")["alias_arn"]
    machine = welcome_arn.rsplit(":", 1)[0]
    assert (
        len(sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]) == 2
    )

    # export: one bundle, behind a 15-minute signed URL whose path shows nothing personal
    status, answer = admin(
        local, "/admin/privacy/export", {"email": "  ADA@Example.com "}, secret="local"
    )
    assert status == 200, answer
    url = urlsplit(answer["url"])
    assert ADA not in answer["url"] and contact_id not in answer["url"]
    query = parse_qs(url.query)
    assert query.get("X-Amz-Expires") == ["900"] or "Expires" in query
    key = url.path[url.path.index("exports/") :]  # virtual-hosted or path style
    bundle = json.loads(local.client("s3").get_object(Bucket=local.bucket, Key=key)["Body"].read())
    assert bundle["profile"]["email"] == ADA and bundle["profile"]["contact_id"] == contact_id
    assert {"anon:v-ada", f"email:{ADA}", f"contact:{contact_id}"} <= set(bundle["actors"])
    consent = bundle["consents"]["email:newsletter"]  # with its proof: when, where, wording
    assert consent["status"] == "granted" and consent["source"] == "form:newsletter-signup"
    assert consent["at"] and consent["text"]
    names = {a.get("name") for a in bundle["activities"]}
    assert {"email.clicked", "email.sent", "consent.confirmed"} <= names, names
    runs = {r["pk"].split("#")[0] for r in bundle["program_runs"]}
    assert runs == {"ENROL", "WAIT"}
    assert {r["sk"] for r in bundle["program_runs"] if r["pk"].startswith("ENROL")} == {
        "PROGRAM#welcome",
        "PROGRAM#repurchase",
    }
    assert bundle["sends"] and len(bundle["schedules"]) == 1
    assert not any("bo@example.com" in json.dumps(r) for r in bundle["activities"])

    # erase
    status, answer = admin(local, "/admin/privacy/erase", {"email": ADA}, secret="local")
    assert status == 200, answer
    counts = answer["counts"]
    # welcome's run is stopped; repurchase's paused run is ended by deleting its resume
    # (the Workflows port follows it), so no schedule is left for the search to find
    assert counts["executions_stopped"] == 2 and counts["schedules_deleted"] == 0
    assert counts["lake_rows_removed"] > 0 and counts["exports_deleted"] == 1
    # the bucket is versioned: the rewritten lake objects' and the export's old versions go too
    assert counts["old_versions_deleted"] > 0
    assert ADA not in json.dumps(answer)
    local.advance(timedelta(hours=2))  # the stopped runs' ends, the streams, the lake batches
    running = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
    assert len(running) == 1 and not running[0]["name"].endswith(contact_id)  # Bo's run goes on
    aborted = sfn.list_executions(stateMachineArn=machine, statusFilter="ABORTED")["executions"]
    assert [e["name"] for e in aborted] == [f"welcome--{contact_id}"]
    left = [t for _, t in everything(local) if any(n in t for n in needles)]
    assert left == []
    assert mentions(local, ["bo@example.com"])  # the other person is all there
    state = local.resolver.refs["StateTable"]
    db = local.client("dynamodb")
    audit = db.query(
        TableName=state,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "AUDIT#erase"}},
    )["Items"]
    assert len(audit) == 1
    record = json.loads(audit[0]["doc"]["S"])
    assert record["hashes"] == answer["hashes"] and record["counts"] == counts
    delivery = DynamoDelivery(db, state, local.resolver.refs["ContactsTable"])
    assert delivery.suppression_for("email", "Ada@example.com").reason == "erased"
    assert delivery.suppression_for("email", "bo@example.com") is None

    # the same address signs up again: no mail goes to it, ever
    sent = len(local.outbox)
    person(local, ADA, "v-ada-2")
    local.advance(timedelta(days=5))
    assert [e for e in local.outbox[sent:] if ADA in e.to] == []
    assert local.errors == []


def test_privacy_routes_refuse_missing_or_wrong_credentials(local: LocalCloud) -> None:
    person(local, ADA, "v-ada")
    for path in ("/admin/privacy/export", "/admin/privacy/erase"):
        body = {"email": ADA}
        assert admin(local, path, body)[0] == 403  # unsigned
        status, _, _ = local.http("POST", path, body)  # the public write key
        assert status == 403
        assert admin(local, path, body, secret="not-the-secret") == (403, {"message": "Forbidden"})
        assert admin(local, path, body, access_key="AKIAOTHER")[0] == 403
        # signed for another body than the one sent
        headers = sign(
            "POST", f"http://localhost{path}", json.dumps({"email": "x@example.com"}).encode()
        )
        status, _, _ = local.http(
            "POST", path, json.dumps(body).encode(), headers=headers, write_key=None
        )
        assert status == 403
        # bad requests are 400 with the field, never 5xx
        for bad, field in (
            ({}, "email"),
            ({"email": 5}, "email"),
            ({"email": "nope"}, "email"),
            ([1], "body"),
            ({"contact_id": ""}, "contact_id"),
        ):
            status, answer = admin(local, path, bad, secret="local")
            assert status == 400 and answer["errors"][0]["field"] == field, (bad, answer)
    # nothing was erased by any of those
    assert (
        local.client("dynamodb")
        .get_item(
            TableName=local.resolver.refs["ContactsTable"],
            Key={"pk": {"S": f"ACTOR#email:{ADA}"}, "sk": {"S": "CONTACT"}},
        )
        .get("Item")
    )
