"""Who may change a known contact (README, "Who may change a contact").

The public write key is in every web page. With it one may send anonymous activity and create
a new contact; naming a contact that exists already is a claim: recorded on the contact,
never applied. Only a secret key, a verified identity (userHash) or a signed email click may
change a known contact or join a visitor's history to one. Each way in is tried here.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from localcloud.cloud import LOCAL_SECRETS
from nurture.delivery.clicks import CLICK_PARAM, click_token
from nurture.delivery.tokens import CONFIRM, LinkToken, sign
from nurture.tracking.trust import user_hash
from tests.integration.signup import sign_up

if TYPE_CHECKING:
    from nurture.contacts import Contact
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

PUBLIC, SECRET = "local-write-key", "local-secret-key"
IDENTITY_SECRET = LOCAL_SECRETS["identity-verification-secret"]
LINK_SECRETS = [LOCAL_SECRETS["link-signing-secrets"]]
ADA = "ada@example.com"
# Fires on a field change and on a stage change: a claim must fire neither.
FIELD_PROGRAM = """\
id: on-company-change
name: Company changed
trigger:
  field_changed: company
steps:
  - {id: note, type: send_email, template: welcome-1, purpose: service}
"""
STAGE_PROGRAM = """\
id: on-stage-change
name: Stage changed
trigger:
  stage_changed: {to: customer}
steps:
  - {id: note, type: send_email, template: welcome-1, purpose: service}
"""


def post(cloud: LocalCloud, path: str, body: dict[str, Any], key: str = PUBLIC) -> Any:
    status, _, answer = cloud.http("POST", path, body, write_key=key)
    assert status in (200, 202), answer
    return answer


def known_ada(cloud: LocalCloud, tables: Tables, proven: bool = False) -> Contact:
    """Ada, known: created by her own sign-up from her browser (anonymous id A). `proven`:
    she then followed a link emailed to her in that browser, which adopts the contact with
    all it has (else a trusted call keeps only what it names: test_identity_squatting.py)."""
    post(cloud, "/v1/page", {"anonymousId": "A", "messageId": "a-1", "name": "Home"})
    post(
        cloud,
        "/v1/identify",
        {
            "anonymousId": "A",
            "traits": {"email": ADA, "company": "Analytical", "first_name": "Ada"},
        },
    )
    ada = tables.contact_by_email(ADA)
    if proven:
        now = int(cloud.clock.now().timestamp())
        token = click_token(LINK_SECRETS, ada.contact_id, now + 3600)
        page_with_url(cloud, "A", f"https://example.com/?{CLICK_PARAM}={token}")
        ada = tables.contact_by_email(ADA)
        assert ada.adopted_by == "signed_link" and "anon:A" in ada.actors
    return ada


def claims_of(tables: Tables, contact: Contact) -> list[dict[str, Any]]:
    return [a.properties for a in tables.activities_of(contact) if a.name == "contact.claimed"]


def page_with_url(cloud: LocalCloud, anonymous_id: str, url: str, key: str = PUBLIC) -> None:
    post(
        cloud,
        "/v1/page",
        {"anonymousId": anonymous_id, "name": "Landing", "context": {"page": {"url": url}}},
        key,
    )


# --- a public key cannot change a known contact -----------------------------------------


def test_a_public_identify_naming_a_known_contact_is_a_claim(
    live: LocalCloud, tables: Tables
) -> None:
    live.upload("programs/on-company-change.yaml", FIELD_PROGRAM)
    live.upload("programs/on-stage-change.yaml", STAGE_PROGRAM)
    ada = known_ada(live, tables)

    # an attacker's browser (M) names Ada and rewrites her company and stage
    answer = post(
        live,
        "/v1/identify",
        {
            "anonymousId": "M",
            "messageId": "evil-1",
            "traits": {"email": "ADA@example.com", "company": "Evil Corp", "stage": "customer"},
        },
    )
    assert answer["success"] is True  # accepted: a claim is kept

    after = tables.contact_by_email(ADA)
    assert after.company == "Analytical" and after.stage == ada.stage
    assert "anon:M" not in after.actors and tables.contact_for_actor("anon:M") is None
    [claim] = claims_of(tables, after)
    assert claim["via"] == "identify" and claim["message_id"] == "evil-1"
    assert claim["fields"] == {"company": "Evil Corp", "stage": "customer"}
    assert claim["trust"] == "public"
    names = {a.name for a in tables.activities_of(after)}
    assert not names & {"contact.field_changed", "contact.stage_changed"}
    assert live.outbox == []  # no field or stage trigger fired
    assert live.errors == []


def test_traits_in_context_and_a_known_user_id_are_claims_too(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Ada's contact is known by her userId (identified by the site's backend)
    post(
        cloud,
        "/v1/identify",
        {"userId": "u-ada", "traits": {"email": ADA, "company": "Analytical"}},
        SECRET,
    )
    # traits in context (where some SDKs put them), with her email
    post(
        cloud,
        "/v1/identify",
        {"anonymousId": "M", "context": {"traits": {"email": ADA, "company": "Evil Corp"}}},
    )
    # and by her userId alone, with no email
    post(cloud, "/v1/identify", {"userId": "u-ada", "traits": {"company": "Evil Corp"}})

    ada = tables.contact_by_email(ADA)
    assert ada.company == "Analytical"
    assert tables.contact_for_actor("anon:M") is None
    assert len(claims_of(tables, ada)) == 2
    assert cloud.errors == []


def test_a_public_form_naming_a_known_contact_changes_nothing_and_only_asks_for_consent(
    live: LocalCloud, tables: Tables
) -> None:
    ada = known_ada(live, tables)
    assert ada.consent == {}

    # someone submits the newsletter form with Ada's email and consent
    post(
        live,
        "/v1/forms/newsletter-signup",
        {"email": ADA, "first_name": "Mallory", "consent_newsletter": "on", "anonymousId": "M"},
    )

    after = tables.contact_by_email(ADA)
    assert after.first_name == "Ada"
    assert tables.contact_for_actor("anon:M") is None
    # the consent is not granted: it is pending, and the confirmation went to Ada herself
    assert after.consent["email:newsletter"].status == "pending"
    [confirmation] = [e for e in live.outbox if e.tags.get("kind") == "double_opt_in"]
    assert confirmation.to == [ADA]
    # no marketing email was sent on the strength of the claim
    assert all(e.tags.get("kind") == "double_opt_in" for e in live.outbox)
    [claim] = claims_of(tables, after)
    assert claim["via"] == "form" and claim["consent_requested"] == ["email:newsletter"]
    assert live.errors == []


def test_a_claim_never_blocks_what_the_contact_already_allows(
    live: LocalCloud, tables: Tables
) -> None:
    # Ada signed up herself and confirmed: newsletter consent granted
    sign_up(live, {"email": ADA, "consent_newsletter": "on"})
    assert tables.contact_by_email(ADA).consent["email:newsletter"].status == "granted"
    sent = len(live.outbox)

    # a claim asking for the same consent leaves it granted and sends no confirmation
    post(live, "/v1/forms/newsletter-signup", {"email": ADA, "consent_newsletter": "on"})
    assert tables.contact_by_email(ADA).consent["email:newsletter"].status == "granted"
    assert not [e for e in live.outbox[sent:] if e.tags.get("kind") == "double_opt_in"]
    assert live.errors == []


def test_double_opt_in_confirms_a_claimed_consent(live: LocalCloud, tables: Tables) -> None:
    known_ada(live, tables)
    post(live, "/v1/forms/newsletter-signup", {"email": ADA, "consent_newsletter": "on"})
    [confirmation] = [e for e in live.outbox if e.tags.get("kind") == "double_opt_in"]
    link = next(u for u in _urls(confirmation.text) if "/c/" in u)

    # Ada follows the link in her own inbox and confirms
    status, _, _ = live.http("POST", "/c/" + link.split("/c/", 1)[1], "", write_key=None)
    assert status == 200
    assert tables.contact_by_email(ADA).consent["email:newsletter"].status == "granted"
    assert live.errors == []


def test_a_forged_identity_hash_proves_nothing(cloud: LocalCloud, tables: Tables) -> None:
    known_ada(cloud, tables)
    wrong = [
        user_hash("not-the-secret-at-all", ADA),  # signed with another secret
        user_hash(IDENTITY_SECRET, "mallory@example.com"),  # a real hash of another email
        user_hash(IDENTITY_SECRET, "u-mallory"),  # of a userId, sent with Ada's email
        "",
    ]
    for index, given in enumerate(wrong):
        post(
            cloud,
            "/v1/identify",
            {
                "anonymousId": "M",
                "userId": "u-mallory",
                "messageId": f"forged-{index}",
                "traits": {"email": ADA, "company": "Evil Corp"},
                "context": {"nurture": {"userHash": given}},
            },
        )
    ada = tables.contact_by_email(ADA)
    assert ada.company == "Analytical"
    assert tables.contact_for_actor("anon:M") is None
    assert tables.contact_for_actor("user:u-mallory") is None
    assert len(claims_of(tables, ada)) == len(wrong)
    assert {a.trust for a in tables.activities("user:u-mallory")} == {"public"}
    assert cloud.errors == []


def test_a_forged_expired_or_tampered_click_token_proves_nothing(
    cloud: LocalCloud, tables: Tables
) -> None:
    ada = known_ada(cloud, tables)
    now = int(cloud.clock.now().timestamp())
    good = click_token(LINK_SECRETS, ada.contact_id, now + 3600)
    payload, _, mac = good.partition(".")
    other_purpose = sign(LINK_SECRETS, LinkToken(ada.contact_id, CONFIRM, now + 3600))
    bad_tokens = {
        "forged": click_token(["someone-elses-secret-0123456789"], ada.contact_id, now + 3600),
        "expired": click_token(LINK_SECRETS, ada.contact_id, now - 1),
        "tampered": payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac,
        "other purpose": other_purpose,
        "garbage": "not-a-token",
    }
    for index, token in enumerate(bad_tokens.values()):
        page_with_url(cloud, f"M{index}", f"https://example.com/pricing?{CLICK_PARAM}={token}")
    for index in range(len(bad_tokens)):
        assert tables.contact_for_actor(f"anon:M{index}") is None
        assert {a.trust for a in tables.activities(f"anon:M{index}")} == {"public"}
    assert tables.contact_by_email(ADA).actors == ada.actors
    assert cloud.errors == []


def test_a_contacts_own_click_token_cannot_change_another_contact(
    cloud: LocalCloud, tables: Tables
) -> None:
    ada = known_ada(cloud, tables)
    post(cloud, "/v1/identify", {"anonymousId": "B", "traits": {"email": "mallory@example.com"}})
    mallory = tables.contact_by_email("mallory@example.com")
    now = int(cloud.clock.now().timestamp())
    token = click_token(LINK_SECRETS, mallory.contact_id, now + 3600)

    # Mallory lands with her own token, then names Ada from the same browser
    page_with_url(cloud, "M", f"https://example.com/?{CLICK_PARAM}={token}")
    post(
        cloud,
        "/v1/identify",
        {"anonymousId": "M", "userId": "u-ada", "traits": {"email": ADA, "company": "Evil"}},
    )
    # and replays her token on a page view that claims Ada's userId
    post(
        cloud,
        "/v1/page",
        {
            "anonymousId": "M2",
            "userId": "u-ada",
            "context": {"page": {"url": f"https://example.com/?{CLICK_PARAM}={token}"}},
        },
    )

    assert tables.contact_for_actor("anon:M") == mallory.contact_id  # her own browser
    assert tables.contact_for_actor("anon:M2") == mallory.contact_id
    assert tables.contact_for_actor("user:u-ada") is None  # a token proves no userId
    after = tables.contact_by_email(ADA)
    assert after.company == "Analytical" and after.actors == ada.actors
    assert cloud.errors == []


def test_a_public_key_never_takes_an_identity_key_another_contact_holds(
    cloud: LocalCloud, tables: Tables
) -> None:
    post(cloud, "/v1/identify", {"userId": "u-ada", "traits": {"email": ADA}}, SECRET)
    ada = tables.contact_by_email(ADA)

    # a new contact from the public key, sent with Ada's userId
    post(cloud, "/v1/identify", {"userId": "u-ada", "traits": {"email": "new@example.com"}})

    assert tables.contact_for_actor("user:u-ada") == ada.contact_id
    assert "user:u-ada" not in tables.contact_by_email("new@example.com").actors
    assert cloud.errors == []


def test_a_public_alias_or_group_cannot_join_or_relink_a_known_contact(
    cloud: LocalCloud, tables: Tables
) -> None:
    post(cloud, "/v1/identify", {"userId": "u-ada", "traits": {"email": ADA}}, SECRET)
    ada = tables.contact_by_email(ADA)
    post(cloud, "/v1/page", {"anonymousId": "M", "messageId": "m-1", "name": "Home"})

    # alias: the attacker's browser M "was" Ada's user all along
    post(cloud, "/v1/alias", {"type": "alias", "previousId": "M", "userId": "u-ada"})
    # group: Ada's user id joins the attacker's company
    post(
        cloud,
        "/v1/group",
        {"type": "group", "userId": "u-ada", "groupId": "evil", "traits": {"name": "Evil"}},
    )

    after = tables.contact_by_email(ADA)
    assert tables.contact_for_actor("anon:M") is None
    assert after.actors == ada.actors and after.account_id is None
    assert "m-1" not in {a.message_id for a in tables.activities_of(after)}
    # the same calls with the secret key are the site's own word
    post(cloud, "/v1/group", {"userId": "u-ada", "groupId": "acme"}, SECRET)
    assert tables.contact_by_email(ADA).account_id == "acme"
    assert cloud.errors == []


# --- the trusted ways in work ---------------------------------------------------------------


def test_a_secret_key_updates_a_known_contact_and_joins_history(
    live: LocalCloud, tables: Tables
) -> None:
    live.upload("programs/on-company-change.yaml", FIELD_PROGRAM)
    known_ada(live, tables, proven=True)
    post(live, "/v1/page", {"anonymousId": "P", "messageId": "phone-1", "name": "Pricing"})

    post(
        live,
        "/v1/identify",
        {"anonymousId": "P", "traits": {"email": ADA, "company": "Analytical Engines"}},
        SECRET,
    )

    ada = tables.contact_by_email(ADA)
    assert ada.company == "Analytical Engines"
    assert tables.contact_for_actor("anon:P") == ada.contact_id
    assert "phone-1" in {a.message_id for a in tables.activities_of(ada)}
    assert [e.tags["program_id"] for e in live.outbox] == ["on-company-change"]
    assert {a.trust for a in tables.activities("anon:P") if a.kind == "identify"} == {"secret"}
    assert claims_of(tables, ada) == []
    assert live.errors == []


def test_a_verified_identify_from_the_browser_is_trusted(cloud: LocalCloud, tables: Tables) -> None:
    known_ada(cloud, tables, proven=True)
    post(cloud, "/v1/page", {"anonymousId": "P", "messageId": "phone-1", "name": "Pricing"})

    # the site's backend computed the hash of her email; the browser sends it with the public key
    post(
        cloud,
        "/v1/identify",
        {
            "anonymousId": "P",
            "traits": {"email": "Ada@Example.com", "company": "Analytical Engines"},
            "context": {"nurture": {"userHash": user_hash(IDENTITY_SECRET, ADA)}},
        },
    )

    ada = tables.contact_by_email(ADA)
    assert ada.company == "Analytical Engines"
    assert tables.contact_for_actor("anon:P") == ada.contact_id
    assert tables.contact_for_actor("anon:A") == ada.contact_id  # proven before: kept
    assert "phone-1" in {a.message_id for a in tables.activities_of(ada)}
    assert {a.trust for a in tables.activities("anon:P") if a.kind == "identify"} == {"verified"}
    assert cloud.errors == []


def test_a_verified_user_id_updates_the_contact_it_belongs_to(
    cloud: LocalCloud, tables: Tables
) -> None:
    post(cloud, "/v1/identify", {"userId": "u-ada", "traits": {"email": ADA}}, SECRET)
    post(
        cloud,
        "/v1/identify",
        {
            "userId": "u-ada",
            "traits": {"company": "Analytical Engines"},
            "context": {"nurture": {"userHash": user_hash(IDENTITY_SECRET, "u-ada")}},
        },
    )
    assert tables.contact_by_email(ADA).company == "Analytical Engines"
    assert cloud.errors == []


def test_a_signed_click_joins_the_visit_to_the_contact(cloud: LocalCloud, tables: Tables) -> None:
    ada = known_ada(cloud, tables)
    token = click_token(LINK_SECRETS, ada.contact_id, int(cloud.clock.now().timestamp()) + 3600)

    page_with_url(cloud, "T", f"https://example.com/pricing?utm_source=x&{CLICK_PARAM}={token}")
    post(cloud, "/v1/track", {"anonymousId": "T", "messageId": "t-later", "event": "Demo Booked"})

    after = tables.contact_by_email(ADA)
    assert tables.contact_for_actor("anon:T") == ada.contact_id
    assert "t-later" in {a.message_id for a in tables.activities_of(after)}
    [landing] = [a for a in tables.activities("anon:T") if a.kind == "page"]
    assert landing.trust == "signed_link" and landing.contact_id == ada.contact_id
    joined = [a for a in tables.activities_of(after) if a.properties.get("via") == "email_click"]
    assert len(joined) == 1
    assert cloud.errors == []


def test_a_public_key_still_creates_new_contacts_with_their_history(
    live: LocalCloud, tables: Tables
) -> None:
    cloud = live
    post(cloud, "/v1/page", {"anonymousId": "N", "messageId": "n-1", "name": "Home"})
    post(
        cloud,
        "/v1/forms/guide-download",
        {"email": "new@example.com", "guide": "onboarding", "anonymousId": "N"},
    )
    contact = tables.contact_by_email("new@example.com")
    assert tables.contact_for_actor("anon:N") == contact.contact_id
    assert "n-1" in {a.message_id for a in tables.activities_of(contact)}
    assert contact.fields["guide_topic"] == "onboarding"
    assert cloud.errors == []


def test_the_write_keys_come_from_parameter_store_with_their_kinds(cloud: LocalCloud) -> None:
    keys = json.loads(LOCAL_SECRETS["write-keys"])
    assert keys == {PUBLIC: "public", SECRET: "secret"}
    status, _, _ = cloud.http("POST", "/v1/page", {"anonymousId": "x"}, write_key="unknown-key")
    assert status == 401
    cloud.advance(timedelta(seconds=1))


def _urls(text: str) -> list[str]:
    import re

    return re.findall(r"https?://\S+", text)
