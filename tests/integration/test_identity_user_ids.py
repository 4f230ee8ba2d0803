"""Contacts known by a userId, and visitors who become contacts (README, "Who may change a
contact").

Anyone can send any userId with the public key. A contact a public key makes from a userId
alone is unproven: when the site's backend (secret key) or a verified identify later names
that userId, it is not adopted. The user id moves to a contact of the trusted sender's, and
what the public key joined to it (a browser, its history, fields) stays behind. And a visitor
who sent `group` before they were known is linked to that account once they are.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from localcloud.cloud import LOCAL_SECRETS
from nurture.tracking.trust import user_hash

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

PUBLIC, SECRET = "local-write-key", "local-secret-key"
IDENTITY_SECRET = LOCAL_SECRETS["identity-verification-secret"]
ADA = "ada@example.com"


def post(cloud: LocalCloud, path: str, body: dict[str, Any], key: str = PUBLIC) -> Any:
    status, _, answer = cloud.http("POST", path, body, write_key=key)
    assert status in (200, 202), answer
    return answer


def page(cloud: LocalCloud, anonymous_id: str, message_id: str, **extra: Any) -> None:
    body = {"anonymousId": anonymous_id, "messageId": message_id, "name": "Pricing", **extra}
    post(cloud, "/v1/page", body)


def backend_identifies_ada(cloud: LocalCloud, **extra: Any) -> None:
    """The site's backend, at Ada's sign-up: her user id and email, with the secret key."""
    body = {
        "userId": "u-ada",
        "messageId": "backend-1",
        "traits": {"email": ADA, "first_name": "Ada"},
    }
    post(cloud, "/v1/identify", {**body, **extra}, SECRET)


def history(tables: Tables, email: str) -> set[str]:
    return {a.message_id for a in tables.activities_of(tables.contact_by_email(email))}


# --- squatting a user id ---------------------------------------------------------------------


def test_a_user_id_squatted_with_the_public_key_does_not_bring_the_squatters_browser(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Mallory browses, then claims Ada's (guessable) user id before Ada ever signed up
    page(cloud, "M", "m-1")
    post(
        cloud,
        "/v1/identify",
        {
            "userId": "u-ada",
            "anonymousId": "M",
            "messageId": "squat",
            "traits": {"company": "Evil"},
        },
    )
    squatter = tables.contact_for_actor("user:u-ada")
    assert squatter is not None and tables.contact_for_actor("anon:M") == squatter

    # When Ada signs up and the site's backend identifies her user id with her email
    backend_identifies_ada(cloud)

    # Then her contact holds the user id, and nothing Mallory's public key joined to it
    ada = tables.contact_by_email(ADA)
    assert ada.contact_id != squatter
    assert tables.contact_for_actor("user:u-ada") == ada.contact_id
    assert "anon:M" not in ada.actors and tables.contact_for_actor("anon:M") == squatter
    assert (ada.first_name, ada.company) == ("Ada", None)
    assert "m-1" not in history(tables, ADA)
    assert ada.created_trust == "secret"
    # the squatter's contact gave up the user id: it is Mallory's browser alone
    left = next(c for c in tables.contacts() if c.contact_id == squatter)
    assert left.actors == ["anon:M"] and left.email is None

    # And what Mallory's browser does next stays off Ada's contact
    page(cloud, "M", "m-2")
    assert "m-2" not in history(tables, ADA)
    assert cloud.errors == []


def test_a_user_id_squatted_with_a_public_alias_is_refused_the_same_way(
    cloud: LocalCloud, tables: Tables
) -> None:
    page(cloud, "M", "m-1")
    post(cloud, "/v1/alias", {"previousId": "M", "userId": "u-ada", "messageId": "squat"})
    squatter = tables.contact_for_actor("user:u-ada")
    assert squatter is not None and tables.contact_for_actor("anon:M") == squatter

    backend_identifies_ada(cloud)

    ada = tables.contact_by_email(ADA)
    assert ada.contact_id != squatter and tables.contact_for_actor("user:u-ada") == ada.contact_id
    assert tables.contact_for_actor("anon:M") == squatter and "m-1" not in history(tables, ADA)
    assert cloud.errors == []


def test_a_trusted_identify_by_user_id_alone_does_not_adopt_a_squatted_user_id_either(
    cloud: LocalCloud, tables: Tables
) -> None:
    page(cloud, "M", "m-1")
    post(cloud, "/v1/identify", {"userId": "u-ada", "anonymousId": "M", "traits": {"plan": "x"}})
    squatter = tables.contact_for_actor("user:u-ada")

    # the backend knows her user id and plan, not yet her email
    post(cloud, "/v1/identify", {"userId": "u-ada", "traits": {"plan": "pro"}}, SECRET)
    owner = tables.contact_for_actor("user:u-ada")
    assert owner not in (None, squatter)
    # then her email: the same (trusted) contact, with what the backend said
    backend_identifies_ada(cloud)
    ada = tables.contact_by_email(ADA)
    assert ada.contact_id == owner and ada.fields == {"plan": "pro"}
    assert "anon:M" not in ada.actors and "m-1" not in history(tables, ADA)
    assert cloud.errors == []


# --- the legitimate flows still work ---------------------------------------------------------


def test_browser_identify_by_user_id_then_the_backend_with_her_email(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Ada browses, logs in (analytics.identify("u-ada") with the public key), browses on
    page(cloud, "A", "a-1")
    post(cloud, "/v1/identify", {"userId": "u-ada", "anonymousId": "A", "messageId": "login"})
    page(cloud, "A", "a-2", userId="u-ada")

    # When the backend identifies her with her email and the browser's anonymous id
    backend_identifies_ada(cloud, anonymousId="A")

    # Then one contact holds her user id, her email and her browser, with all her history
    ada = tables.contact_by_email(ADA)
    assert tables.contact_for_actor("user:u-ada") == ada.contact_id
    assert tables.contact_for_actor("anon:A") == ada.contact_id
    assert {"a-1", "login", "a-2", "backend-1"} <= history(tables, ADA)

    # and her next visits, by her browser or her user id, are hers
    page(cloud, "A", "a-3")
    post(cloud, "/v1/track", {"userId": "u-ada", "messageId": "t-1", "event": "Demo Requested"})
    assert {"a-3", "t-1"} <= history(tables, ADA)
    assert cloud.errors == []


def test_a_verified_user_id_is_adopted_with_its_browser(cloud: LocalCloud, tables: Tables) -> None:
    # the browser's identify carries the userHash her backend computed at login
    page(cloud, "A", "a-1")
    post(
        cloud,
        "/v1/identify",
        {
            "userId": "u-ada",
            "anonymousId": "A",
            "messageId": "login",
            "traits": {"plan": "pro"},
            "context": {"nurture": {"userHash": user_hash(IDENTITY_SECRET, "u-ada")}},
        },
    )
    first = tables.contact_for_actor("user:u-ada")

    backend_identifies_ada(cloud)

    ada = tables.contact_by_email(ADA)
    assert ada.contact_id == first and ada.created_trust == "verified"
    assert tables.contact_for_actor("anon:A") == ada.contact_id
    assert ada.fields == {"plan": "pro"} and {"a-1", "login"} <= history(tables, ADA)
    assert len(tables.contacts()) == 1
    assert cloud.errors == []


# --- group before the visitor was known ----------------------------------------------------


def test_a_group_from_an_unknown_visitor_links_the_account_when_they_become_a_contact(
    live: LocalCloud, tables: Tables
) -> None:
    cloud = live
    group = {"anonymousId": "V", "messageId": "g-1", "groupId": "acme", "traits": {"name": "Acme"}}
    post(cloud, "/v1/group", group)
    [account] = tables.accounts()
    assert account.name == "Acme" and tables.contacts() == []

    post(
        cloud,
        "/v1/forms/guide-download",
        {"email": "grace@example.com", "guide": "scoring", "anonymousId": "V"},
    )
    assert tables.contact_by_email("grace@example.com").account_id == "acme"

    # the same for a visitor who becomes a contact by a user id, with the latest group winning
    post(cloud, "/v1/group", {**group, "anonymousId": "W", "messageId": "g-2", "groupId": "old"})
    cloud.advance(timedelta(minutes=1))
    post(cloud, "/v1/group", {**group, "anonymousId": "W", "messageId": "g-3", "groupId": "new"})
    post(cloud, "/v1/identify", {"userId": "u-w", "anonymousId": "W", "messageId": "i-w"})
    owner = tables.contact_for_actor("user:u-w")
    assert next(c for c in tables.contacts() if c.contact_id == owner).account_id == "new"
    assert cloud.errors == []


def test_a_joining_visitors_group_never_replaces_a_contacts_account(
    cloud: LocalCloud, tables: Tables
) -> None:
    backend_identifies_ada(cloud)
    post(cloud, "/v1/group", {"userId": "u-ada", "groupId": "acme"}, SECRET)
    post(cloud, "/v1/group", {"anonymousId": "P", "groupId": "elsewhere", "traits": {}})

    # her phone's browser joins her contact (the backend's word), with its group call
    backend_identifies_ada(cloud, anonymousId="P", messageId="backend-2")

    ada = tables.contact_by_email(ADA)
    assert tables.contact_for_actor("anon:P") == ada.contact_id
    assert ada.account_id == "acme"
    assert cloud.errors == []
