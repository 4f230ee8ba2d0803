"""`nurture import` against the local cloud (the CLI -> /_local/import -> the cloud's tables):
imported contacts are contacts programs enrol, consent is what the file states, the report
lists the rejected rows, and a second run of the same file writes nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.cli import main
from localcloud.server import LocalApi
from nurture.adapters.dynamodb import DynamoContacts

pytestmark = pytest.mark.integration

PROGRAM = """id: imported-welcome
name: Welcome the imported
trigger:
  event: contact.imported
entry: once
steps:
  - id: tag
    type: update_contact
    add_tags: [welcomed]
"""
MAPPING = """columns:
  E-mail: email
  First: first_name
  Born: birthday
  Plan: fields.plan
consent:
  - column: News
    channel: email
    topic: newsletter
    wording: "Yes, send me the monthly newsletter"
    at_column: News date
"""
ROWS = [
    ["E-mail", "First", "Born", "Plan", "News", "News date"],
    ["ada@example.com", "Ada", "1990-12-10", "pro", "yes", "2026-01-05"],
    ["bob@example.com", "Bob", "", "", "", ""],
    ["not-an-address", "Cy", "", "", "yes", ""],
    ["dee@example.com", "Dee", "31/02/1990", "", "maybe", ""],
]


def _write(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "contacts.csv"
    with data.open("w", newline="") as out:
        csv.writer(out).writerows(ROWS)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    return data, mapping


def _items(cloud: LocalCloud, table: str) -> int:
    db = cloud.client("dynamodb")
    return len(db.scan(TableName=cloud.resolver.refs[table])["Items"])


def test_the_cli_imports_into_the_local_cloud_and_programs_enrol_the_contacts(
    cloud: LocalCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.sync_content(only=[])
    cloud.upload("programs/imported-welcome.yaml", PROGRAM)
    cloud.run_until_idle()
    data, mapping = _write(tmp_path)
    api = LocalApi(cloud, port=0).start()
    try:
        args = [str(data), "--mapping", str(mapping), "--local", api.url, "--no-progress"]
        first = main(["import", *args])
        counts = {t: _items(cloud, t) for t in ("ContactsTable", "ActivitiesTable", "StateTable")}
        second = main(["import", *args])
        again = {t: _items(cloud, t) for t in ("ContactsTable", "ActivitiesTable", "StateTable")}
    finally:
        api.stop()
    out = capsys.readouterr().out
    assert first == 1 and second == 1  # rows rejected, both times
    assert "4 rows: 2 imported (2 new, 0 updated, 0 unchanged), 2 rejected" in out
    assert "4 rows: 2 imported (0 new, 0 updated, 2 unchanged), 2 rejected" in out
    assert again == counts  # the second run wrote nothing at all

    report = list(csv.reader((tmp_path / "contacts.csv.rejected.csv").open()))
    assert report[0] == ["row", "field", "reason"]
    by_row = {(r[0], r[1]): r[2] for r in report[1:]}
    assert by_row[("4", "E-mail")].startswith("is not an email address")
    assert "date" in by_row[("5", "Born")] and "consent value" in by_row[("5", "News")]
    assert "not-an-address" not in (tmp_path / "contacts.csv.rejected.csv").read_text()

    contacts = DynamoContacts(cloud.client("dynamodb"), cloud.resolver.refs["ContactsTable"])
    ada = contacts.get(str(contacts.contact_for_actor("email:ada@example.com")))
    bob = contacts.get(str(contacts.contact_for_actor("email:bob@example.com")))
    assert ada is not None and bob is not None
    assert (ada.first_name, ada.birthday, ada.fields) == ("Ada", "1990-12-10", {"plan": "pro"})
    consent = ada.consent["email:newsletter"]
    assert (consent.status, consent.at, consent.text) == (
        "granted",
        "2026-01-05T00:00:00Z",
        "Yes, send me the monthly newsletter",
    )
    assert "file:contacts.csv row:2" in consent.source and consent.source.startswith("import:")
    assert bob.consent == {}  # the file says nothing of Bob's consent: none is recorded
    # the program started on the import's activity and ran for both
    assert "welcomed" in ada.tags and "welcomed" in bob.tags
    status = json.loads(cloud.read("programs/imported-welcome.status.json") or "{}")
    assert status, "the program was deployed"
