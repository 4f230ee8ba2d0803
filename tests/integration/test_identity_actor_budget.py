"""A contact's actor keys have a budget (nurture.tracking.actor_budget; README, "Bad input and
limits"): about 5,000 browsers would fill its 400 KB item. A key over the budget is not joined
(its activity stays anonymous) and the contact gets `contact.actors_dropped` naming it."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.cloud import LOCAL_SECRETS
from nurture.adapters.dynamodb import DynamoContacts
from nurture.delivery.clicks import CLICK_PARAM, click_token
from nurture.tracking.actor_budget import MAX_ACTORS
from tests.conftest import Tables
from tests.integration.care import table

pytestmark = pytest.mark.integration

SECRET = "local-secret-key"
ADA = "ada@example.com"


def post(cloud: LocalCloud, path: str, body: dict[str, Any], key: str = SECRET) -> None:
    status, _, answer = cloud.http("POST", path, body, write_key=key)
    assert status == 200, answer


def test_a_contact_at_its_actor_budget_joins_no_more_browsers(
    cloud: LocalCloud, tables: Tables
) -> None:
    post(cloud, "/v1/identify", {"userId": "u-ada", "traits": {"email": ADA}})
    ada = tables.contact_by_email(ADA)
    # Ada's address was forwarded far and wide: her contact holds all but two keys it may
    contacts = DynamoContacts(cloud.client("dynamodb"), table(cloud, "ContactsTable"))
    many = [f"anon:reader-{i}" for i in range(MAX_ACTORS - 2 - len(ada.actors))]
    contacts.save(ada.model_copy(update={"actors": [*ada.actors, *many]}))

    # the backend names three more browsers of hers: two fit, one does not
    for browser in ("B1", "B2", "B3"):
        post(cloud, "/v1/page", {"anonymousId": browser, "messageId": f"{browser}-1", "name": "x"})
    post(cloud, "/v1/identify", {"userId": "u-ada", "anonymousId": "B1", "traits": {"email": ADA}})
    body = {"userId": "u-ada", "previousId": "B2", "messageId": "alias-b2"}
    post(cloud, "/v1/alias", body)
    post(
        cloud, "/v1/identify", {"anonymousId": "B3", "messageId": "id-b3", "traits": {"email": ADA}}
    )
    # and one more reader lands from a link in her email
    now = int(cloud.clock.now().timestamp())
    token = click_token([LOCAL_SECRETS["link-signing-secrets"]], ada.contact_id, now + 3600)
    url = f"https://example.com/?{CLICK_PARAM}={token}"
    body = {"anonymousId": "R", "messageId": "r-1", "context": {"page": {"url": url}}}
    post(cloud, "/v1/page", body, "local-write-key")

    after = tables.contact_by_email(ADA)
    assert len(after.actors) == MAX_ACTORS
    assert {"anon:B1", "anon:B2"} <= set(after.actors)
    assert tables.contact_for_actor("anon:B1") == ada.contact_id
    # over the budget: not listed, not linked, their activity anonymous
    for browser in ("anon:B3", "anon:R"):
        assert browser not in after.actors and tables.contact_for_actor(browser) is None
    assert "B3-1" not in {a.message_id for a in tables.activities_of(after)}
    drops = [
        a.properties for a in tables.activities_of(after) if a.name == "contact.actors_dropped"
    ]
    listed = sorted(d["actor"] for p in drops for d in p["actors"])
    assert listed == ["anon:B3", "anon:R", "user:B2"]  # the alias's previousId as a user id
    assert {d["reason"] for p in drops for d in p["actors"]} == {"more_than_500_actors"}
    assert cloud.errors == []
