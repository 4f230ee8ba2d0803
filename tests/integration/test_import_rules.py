"""The import's rules on the local cloud's DynamoDB (moto): the mapping refused with the
field named, consent only where the file states it, never over what the person said since
(a newer consent, an unsubscribe, a suppression, an erasure), and a second run of the same
file writes nothing (items and stream records counted)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from admin_helpers import admin

from localcloud import LocalCloud
from localcloud.commands.import_contacts import import_file
from localcloud.moto_speed import stream_length
from nurture import clock
from nurture.adapters.delivery import DynamoDelivery
from nurture.adapters.dynamodb import DynamoContacts
from nurture.adapters.imports import DynamoImports
from nurture.delivery.consent import withdraw_all
from nurture.delivery.ports import SuppressionRecord
from nurture.imports.mapping import MappingError, parse_mapping

pytestmark = pytest.mark.integration

MAPPING: dict[str, Any] = {
    "columns": {"email": "email", "first": "first_name", "phone": "phone"},
    "consent": [
        {
            "column": "news",
            "channel": "email",
            "topic": "newsletter",
            "wording": "Send me the newsletter",
            "at_column": "news_at",
        },
        {"column": "texts", "channel": "sms", "wording": "Text me offers", "at_column": "news_at"},
    ],
    "default_country_code": "44",
}
HEADER = ["email", "first", "phone", "news", "news_at", "texts"]


@pytest.mark.parametrize(
    ("mapping", "field", "words"),
    [
        ({"columns": {"First": "first_name"}}, "columns", "no column fills 'email'"),
        ({"columns": {"E": "email", "X": "shoe_size"}}, "columns", "'shoe_size' is not a field"),
        (
            {
                "columns": {"E": "email"},
                "consent": [{"column": "c", "channel": "fax", "wording": "w"}],
            },
            "consent.0.channel",
            "'email' or 'sms'",
        ),
        (
            {"columns": {"E": "email"}, "consent": [{"column": "c", "channel": "email"}]},
            "consent.0.wording",
            "Field required",
        ),
        ({"columns": {"E": "email"}, "consent_at": "last spring"}, "consent_at", "not a date"),
        ({"columns": {"E": "email"}, "colums": {}}, "colums", "Extra inputs"),
        ([], "mapping", "must be an object"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_field(mapping: Any, field: str, words: str) -> None:
    with pytest.raises(MappingError) as refused:
        parse_mapping(mapping)
    assert refused.value.field == field
    assert words in refused.value.reason


def _file(tmp_path: Path, name: str, rows: list[list[str]]) -> Path:
    path = tmp_path / name
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([HEADER, *rows])
    return path


def _run(
    cloud: LocalCloud, path: Path, mapping: dict[str, Any] = MAPPING
) -> tuple[Any, list[list[str]]]:
    refs = cloud.resolver.refs
    store = DynamoImports(
        cloud.client("dynamodb"), refs["ContactsTable"], refs["ActivitiesTable"], refs["StateTable"]
    )
    report = io.StringIO()
    totals = import_file(store, path, parse_mapping(mapping), clock.iso(clock.now()), report)
    cloud.run_until_idle()
    return totals, list(csv.reader(io.StringIO(report.getvalue())))[1:]


def _contacts(cloud: LocalCloud) -> DynamoContacts:
    return DynamoContacts(cloud.client("dynamodb"), cloud.resolver.refs["ContactsTable"])


def _contact(cloud: LocalCloud, email: str) -> Any:
    contacts = _contacts(cloud)
    contact_id = contacts.contact_for_actor(f"email:{email}")
    return contacts.get(contact_id) if contact_id else None


def _counts(cloud: LocalCloud) -> dict[str, int]:
    db = cloud.client("dynamodb")
    refs = cloud.resolver.refs
    counts = {
        t: len(db.scan(TableName=refs[t])["Items"])
        for t in ("ContactsTable", "ActivitiesTable", "StateTable")
    }
    arn = db.describe_table(TableName=refs["ActivitiesTable"])["Table"]["LatestStreamArn"]
    records = stream_length(arn)  # the records moto's shard holds
    assert records is not None
    counts["activity stream records"] = records
    return counts


def test_consent_only_as_stated_and_never_over_what_the_person_said_since(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    cloud.sync_content(only=[])
    first = _file(
        tmp_path,
        "first.csv",
        [
            ["newer@example.com", "Nia", "", "yes", "2025-06-01", ""],
            ["unsub@example.com", "Uma", "", "yes", "2025-01-01", ""],
            ["silent@example.com", "Sid", "07400 123456", "", "", ""],
        ],
    )
    totals, report = _run(cloud, first)
    assert (totals.created, totals.rejected, report) == (3, 0, [])
    silent = _contact(cloud, "silent@example.com")
    assert silent.consent == {} and silent.phone == "+447400123456"  # nothing stated, none made

    # Uma unsubscribes; Sid's address hard-bounces; Eve is erased (the admin API's erase)
    now = clock.iso(clock.now())
    uma = _contact(cloud, "unsub@example.com")
    withdraw_all(uma, "email", "2025-04-01T00:00:00Z", "unsubscribe")
    _contacts(cloud).save(uma)
    refs = cloud.resolver.refs
    delivery = DynamoDelivery(cloud.client("dynamodb"), refs["StateTable"], refs["ContactsTable"])
    delivery.suppress("silent@example.com", SuppressionRecord("email", "hard_bounce", now))
    _run(
        cloud, _file(tmp_path, "eve.csv", [["eve@example.com", "Eve", "", "yes", "2025-01-01", ""]])
    )
    status, _ = admin(cloud, "POST", "/admin/privacy/erase", {"email": "eve@example.com"})
    assert status == 200 and _contact(cloud, "eve@example.com") is None

    second = _file(
        tmp_path,
        "second.csv",
        [
            ["newer@example.com", "Nia", "", "no", "2025-03-01", ""],  # older than her record
            [
                "unsub@example.com",
                "Uma",
                "",
                "yes",
                "2025-05-01",
                "",
            ],  # after her unsubscribe (April)
            ["silent@example.com", "Sid", "", "yes", "2025-02-01", ""],  # suppressed address
            ["eve@example.com", "Eve", "", "yes", "2025-02-01", ""],  # erased
            ["sms@example.com", "Sam", "+44 7400 123457", "", "2025-02-01", "yes"],
        ],
    )
    before = _counts(cloud)
    totals, report = _run(cloud, second)
    reasons = {(r[0], r[1]): r[2] for r in report}
    assert "newer: kept" in reasons[("2", "email:newsletter")]
    assert "withdrew" in reasons[("3", "email:newsletter")]
    assert "suppressed (hard_bounce)" in reasons[("4", "email:newsletter")]
    assert "erased" in reasons[("5", "email")]
    assert (totals.rejected, totals.created, totals.consents) == (1, 1, 1)
    assert _contact(cloud, "newer@example.com").consent["email:newsletter"].status == "granted"
    assert _contact(cloud, "unsub@example.com").consent["email:newsletter"].status == "withdrawn"
    assert "email:newsletter" not in _contact(cloud, "silent@example.com").consent
    assert _contact(cloud, "eve@example.com") is None  # an erased person is not re-imported
    sam = _contact(cloud, "sms@example.com").consent["sms:marketing"]
    assert (sam.status, sam.text, sam.at) == ("granted", "Text me offers", "2025-02-01T00:00:00Z")
    assert "eve@example.com" not in str(report)

    # the same file again: not one item, activity or stream record more
    after = _counts(cloud)
    assert after["ContactsTable"] == before["ContactsTable"] + 2  # Sam: profile + identity
    again, _ = _run(cloud, second)
    assert _counts(cloud) == after
    assert (again.created, again.updated, again.consents) == (0, 0, 0)
