"""`nurture reindex`: items written before the admin API's indexes (no index keys) are found
by neither the search nor the suppression list; after the backfill they are, and a second
run changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from admin_helpers import admin

from localcloud import LocalCloud
from localcloud.commands.reindex import backfill
from tests.integration.signup import marketing, sign_up

pytestmark = pytest.mark.integration


def test_the_backfill_puts_old_items_into_the_indexes(cloud: LocalCloud) -> None:
    cloud.sync_content(only=["welcome"])
    for i, email in enumerate(("ada@example.com", "alan@example.com")):
        sign_up(
            cloud,
            {"email": email, "first_name": "Ada" if i == 0 else "Alan", "consent_newsletter": True},
        )
    cloud.advance(timedelta(hours=1))
    first = marketing(cloud)[0]
    cloud.ses_event(first, "Complaint", {"complainedRecipients": [{"emailAddress": first.to[0]}]})
    cloud.run_until_idle()
    db = cloud.client("dynamodb")
    contacts, state = cloud.resolver.refs["ContactsTable"], cloud.resolver.refs["StateTable"]
    # as written before the indexes existed: no index keys
    for item in db.scan(TableName=contacts)["Items"]:
        if item["sk"]["S"] == "PROFILE" and item["pk"]["S"].startswith("CONTACT#"):
            db.update_item(
                TableName=contacts,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="REMOVE name_key, name_prefix",
            )
    for item in db.scan(TableName=state)["Items"]:
        if item["pk"]["S"].startswith("SUPPRESS#"):
            db.update_item(
                TableName=state,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="REMOVE listing, listed_at",
            )
    assert admin(cloud, "POST", "/admin/contacts/search", {"name": "ad"})[1]["contacts"] == []
    assert admin(cloud, "GET", "/admin/suppressions?channel=email")[1]["suppressions"] == []

    result = backfill(db, contacts, state)
    assert result["contacts"] == {"profiles": 2, "updated": 2}
    assert result["suppressions"] == {"suppressions": 1, "updated": 1}
    status, found = admin(cloud, "POST", "/admin/contacts/search", {"name": "ad"})
    assert [c["email"] for c in found["contacts"]] == ["ada@example.com"]
    status, listed = admin(cloud, "GET", "/admin/suppressions?channel=email")
    assert [s["address"] for s in listed["suppressions"]] == [first.to[0]]
    assert listed["suppressions"][0]["reason"] == "complaint"
    again = backfill(db, contacts, state)
    assert again["contacts"]["updated"] == 0 and again["suppressions"] == {
        "suppressions": 0,
        "updated": 0,
    }
