"""POST /admin/imports and GET /admin/imports/{import_id} on the local cloud: SigV4-signed
only, a bad mapping or key is a 400 naming the field, a file in the bucket is imported in
parts (each part its own asynchronous invocation of the admin function, resuming at the
row the job stands at), the rejected rows' report lands in the bucket, and posting the
same file again changes nothing."""

from __future__ import annotations

import csv
import io

import pytest
from admin_helpers import admin

from localcloud import LocalCloud
from nurture.adapters.dynamodb import DynamoContacts
from nurture.imports import jobs

pytestmark = pytest.mark.integration

MAPPING = {
    "columns": {"email": "email", "first": "first_name"},
    "consent": [{"column": "news", "channel": "email", "wording": "Send me news"}],
    "consent_at": "2025-01-01",
}


def _csv(rows: int) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["email", "first", "news"])
    for i in range(rows):
        w.writerow([f"p{i}@example.com" if i % 10 != 9 else f"p{i}@@", f"P{i}", "yes"])
    return out.getvalue()


def test_an_import_through_the_admin_api_runs_in_parts_and_reports(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "ROWS_PER_PART", 1000)  # 2,500 rows: three parts
    cloud.sync_content(only=[])
    cloud.upload("imports/people.csv", _csv(2500))

    status, answer = admin(cloud, "POST", "/admin/imports", {"key": "imports/people.csv"})
    assert (status, answer["field"]) == (400, "mapping.mapping")
    bad = {"key": "imports/people.csv", "mapping": {"columns": {"email": "e-mail"}}}
    status, answer = admin(cloud, "POST", "/admin/imports", bad)
    assert (status, answer["field"]) == (400, "mapping.columns")
    status, answer = admin(cloud, "POST", "/admin/imports", {"key": "x.csv", "mapping": MAPPING})
    assert (status, answer["field"]) == (400, "key")
    missing = {"key": "imports/none.csv", "mapping": MAPPING}
    assert admin(cloud, "POST", "/admin/imports", missing)[0] == 400
    header = {"key": "imports/people.csv", "mapping": {"columns": {"Mail": "email"}}}
    status, answer = admin(cloud, "POST", "/admin/imports", header)
    assert status == 400 and "Mail" in answer["message"]

    body = {"key": "imports/people.csv", "mapping": MAPPING}
    status, answer = admin(cloud, "POST", "/admin/imports", body)
    assert status == 202
    import_id = answer["import_id"]
    cloud.run_until_idle()
    status, job = admin(cloud, "GET", f"/admin/imports/{import_id}")
    assert status == 200 and job["status"] == "done" and job["rows_done"] == 2500
    assert job["totals"]["created"] == 2250 and job["totals"]["rejected"] == 250
    report = list(csv.reader(io.StringIO(cloud.read(job["report"]) or "")))
    assert report[0] == ["row", "field", "reason"] and len(report) == 251
    assert all(r[1] == "email" and r[2].startswith("is not an email") for r in report[1:])
    assert "p9@@" not in (cloud.read(job["report"]) or "")

    contacts = DynamoContacts(cloud.client("dynamodb"), cloud.resolver.refs["ContactsTable"])
    p0 = contacts.get(str(contacts.contact_for_actor("email:p0@example.com")))
    assert p0 is not None and p0.consent["email:marketing"].text == "Send me news"
    assert f"import:{import_id} file:people.csv row:2" == p0.consent["email:marketing"].source

    # the same file again: the same job, nothing written
    db = cloud.client("dynamodb")
    before = len(db.scan(TableName=cloud.resolver.refs["ContactsTable"])["Items"])
    status, again = admin(cloud, "POST", "/admin/imports", body)
    cloud.run_until_idle()
    assert (status, again["import_id"]) == (202, import_id)
    assert len(db.scan(TableName=cloud.resolver.refs["ContactsTable"])["Items"]) == before
    assert admin(cloud, "GET", "/admin/imports/nope")[0] == 404


def test_the_import_routes_refuse_unsigned_and_wrongly_signed_requests(cloud: LocalCloud) -> None:
    body = {"key": "imports/people.csv", "mapping": MAPPING}
    status, _, _ = cloud.http("POST", "/admin/imports", None, headers={}, write_key=None)
    assert status == 403
    assert admin(cloud, "POST", "/admin/imports", body, secret="wrong")[0] == 403
    assert admin(cloud, "GET", "/admin/imports/abc", secret="wrong")[0] == 403
