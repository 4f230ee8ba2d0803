"""Email-variant squatting (README, "Who may change a contact").

A public form or identify that names an address nobody used yet makes a new contact with the
sender's browser joined to it; the sender may be anyone. When the site's backend (secret key)
or a verified identify later names that address, or its owner proves the mailbox (a signed
click, the landing after a double opt-in confirmation), the contact is adopted: it keeps its
address, consents and the runs its owner started, and of its actors only those the trusted
call names or the proof showed. The others leave for an orphan contact with their history,
the fields the public key set and the score their activity earned; the runs they started
stop. Each squat is tried here, and each legitimate way in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.cloud import LOCAL_SECRETS
from nurture.contacts import Contact
from nurture.delivery.clicks import CLICK_PARAM
from nurture.tracking.trust import user_hash
from tests.conftest import Tables
from tests.integration.care import state
from tests.integration.signup import FORM_POST, confirmations

pytestmark = pytest.mark.integration

PUBLIC, SECRET = "local-write-key", "local-secret-key"
IDENTITY_SECRET = LOCAL_SECRETS["identity-verification-secret"]
ADA = "ada@example.com"
SITE = "https://example.com"
_SITE_LINK = re.compile(r"https://example\.com/[^\s\"'<>]*" + CLICK_PARAM + r"=[\w.-]+")


@pytest.fixture
def site() -> Iterator[LocalCloud]:
    """The local cloud of a site at example.com (so emails and the confirmation page link to
    it with a signed click token), with the welcome and content programs and b2b scoring."""
    cloud = LocalCloud(parameters={"SiteHosts": "example.com"}, frequent_schedules=False).start()
    try:
        cloud.sync_content(only=["welcome", "content-program", "b2b"])
        for name in ("programs/welcome", "programs/content-program", "scoring/b2b"):
            status = json.loads(cloud.read(f"{name}.status.json") or "{}")
            assert status.get("status") == "live", f"{name}: {status}"
        yield cloud
    finally:
        cloud.__exit__()


def post(cloud: LocalCloud, path: str, body: dict[str, Any], key: str = PUBLIC) -> Any:
    status, _, answer = cloud.http("POST", path, body, write_key=key)
    assert status in (200, 202), answer
    return answer


def pricing(cloud: LocalCloud, anonymous_id: str, message_id: str, url: str = "") -> None:
    """A page view of the pricing page (15 points in the b2b model)."""
    url = url or f"{SITE}/pricing"
    body = {"anonymousId": anonymous_id, "messageId": message_id, "name": "Pricing"}
    post(cloud, "/v1/page", {**body, "context": {"page": {"url": url}}})


def land(cloud: LocalCloud, anonymous_id: str, link: str, message_id: str) -> None:
    """A browser follows a signed link to the site: analytics.js sends the page view."""
    body = {"anonymousId": anonymous_id, "messageId": message_id, "name": "Landing"}
    post(cloud, "/v1/page", {**body, "context": {"page": {"url": link}}})


def mallory_downloads_adas_guide(cloud: LocalCloud) -> None:
    """The squat: Mallory's browser M looks at pricing, joins Ada's future account (group),
    and downloads a guide with Ada's address, which Nurture has never seen."""
    pricing(cloud, "M", "m-1")
    post(cloud, "/v1/group", {"anonymousId": "M", "messageId": "m-g", "groupId": "evil"})
    post(
        cloud,
        "/v1/forms/guide-download",
        {
            "email": ADA,
            "first_name": "Mallory",
            "company": "Evil Corp",
            "guide": "scoring",
            "consent_marketing": "on",
            "anonymousId": "M",
            "messageId": "m-form",
        },
    )


def contact(tables: Tables, contact_id: str | None) -> Contact:
    return next(c for c in tables.contacts() if c.contact_id == contact_id)


def history(tables: Tables, who: Contact) -> set[str]:
    return {a.message_id for a in tables.activities_of(who)}


def run_status(cloud: LocalCloud, contact_id: str, program_id: str) -> str | None:
    enrolment = state(cloud).get_enrolment(contact_id, program_id)
    return enrolment.status if enrolment else None


def running(tables: Tables, program_id: str) -> list[str]:
    """Contact ids with a running execution of the program."""
    return [
        e["name"].rsplit("--", 1)[-1]
        for e in tables.executions(program_id)
        if e["status"] == "RUNNING"
    ]


def assert_squat_left_behind(cloud: LocalCloud, tables: Tables, squatted_id: str) -> Contact:
    """What every refused squat leaves: Ada's contact (the same one: its address, links and
    consents) without Mallory's browser, history, fields, account, score or runs."""
    ada = tables.contact_by_email(ADA)
    assert ada.contact_id == squatted_id
    assert "anon:M" not in ada.actors
    orphan_id = tables.contact_for_actor("anon:M")
    assert orphan_id not in (None, ada.contact_id)
    orphan = contact(tables, orphan_id)
    assert orphan.email is None and orphan.actors == ["anon:M"]
    # the fields the public key set, and the account of Mallory's group call, left with her
    assert (orphan.first_name, orphan.company, orphan.account_id) == (
        "Mallory",
        "Evil Corp",
        "evil",
    )
    assert orphan.fields == {"guide_topic": "scoring"}
    assert (ada.company, ada.account_id) == (None, None)
    assert "guide_topic" not in ada.fields and ada.first_name in (None, "Ada")
    # Mallory's history is hers: not on Ada's timeline, nor in Ada's score
    assert not {"m-1", "m-g", "m-form"} & history(tables, ada)
    assert {"m-1", "m-form"} <= history(tables, orphan)
    assert ada.score == 0 and orphan.score == 25  # pricing 15 + guide download 10
    # the content program Mallory's download started is stopped on Ada's contact
    assert run_status(cloud, ada.contact_id, "content-program") == "stopped"
    assert ada.contact_id not in running(tables, "content-program")
    # and what her browser does next is hers alone
    pricing(cloud, "M", "m-2", f"{SITE}/pricing?again")
    assert "m-2" not in history(tables, tables.contact_by_email(ADA))
    assert tables.contact_by_email(ADA).score == 0
    return ada


# --- the squats --------------------------------------------------------------------------


def test_the_backends_identify_does_not_adopt_a_squatters_browser(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    mallory_downloads_adas_guide(site)
    squatted = tables.contact_by_email(ADA)
    assert tables.contact_for_actor("anon:M") == squatted.contact_id
    assert squatted.score == 25 and run_status(site, squatted.contact_id, "content-program")

    # When Ada signs up and the site's backend identifies her, with her user id and name
    post(
        site,
        "/v1/identify",
        {"userId": "u-ada", "messageId": "b-1", "traits": {"email": ADA, "first_name": "Ada"}},
        SECRET,
    )

    ada = assert_squat_left_behind(site, tables, squatted.contact_id)
    assert sorted(ada.actors) == [f"email:{ADA}", "user:u-ada"]
    assert ada.first_name == "Ada" and ada.adopted_by == "secret"
    assert "b-1" in history(tables, ada)
    [released] = [a for a in tables.activities_of(ada) if a.name == "contact.actors_released"]
    assert released.properties["actors"] == ["anon:M"]
    assert site.errors == []


def test_a_verified_identify_does_not_adopt_it_either(site: LocalCloud, tables_of: Tables) -> None:
    tables = tables_of
    # the squat by an identify call this time, not a form
    pricing(site, "M", "m-1")
    post(
        site,
        "/v1/identify",
        {"anonymousId": "M", "messageId": "m-id", "traits": {"email": ADA, "plan": "evil"}},
    )
    squatted = tables.contact_by_email(ADA)
    assert squatted.fields == {"plan": "evil"} and squatted.score == 15

    # Ada logs in on her own browser A; her backend computed the hash of her email
    pricing(site, "A", "a-1", f"{SITE}/pricing?a")
    post(
        site,
        "/v1/identify",
        {
            "anonymousId": "A",
            "messageId": "a-login",
            "traits": {"email": ADA},
            "context": {"nurture": {"userHash": user_hash(IDENTITY_SECRET, ADA)}},
        },
    )

    ada = tables.contact_by_email(ADA)
    assert ada.contact_id == squatted.contact_id
    assert sorted(ada.actors) == ["anon:A", f"email:{ADA}"] and ada.adopted_by == "verified"
    assert ada.fields == {} and ada.score == 15  # her own pricing view, not Mallory's
    assert {"a-1", "a-login"} <= history(tables, ada) and "m-1" not in history(tables, ada)
    orphan = contact(tables, tables.contact_for_actor("anon:M"))
    assert orphan.fields == {"plan": "evil"} and orphan.email is None and orphan.score == 15
    assert site.errors == []


def test_the_owners_email_click_adopts_the_contact_with_her_browser_only(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    mallory_downloads_adas_guide(site)
    squatted = tables.contact_by_email(ADA)
    # the guide went to Ada's address (a service message), its site links signed for her
    [guide] = [e for e in site.outbox if e.tags.get("program_id") == "content-program"]
    assert guide.to == [ADA]
    [link, *_] = _SITE_LINK.findall(guide.text)

    # Ada clicks it: her browser V lands on the site with the token
    land(site, "V", link, "v-1")

    ada = assert_squat_left_behind(site, tables, squatted.contact_id)
    assert sorted(ada.actors) == ["anon:V", f"email:{ADA}"] and ada.adopted_by == "signed_link"
    assert "v-1" in history(tables, ada)
    assert site.errors == []


def test_a_confirmation_proves_the_browser_that_followed_it_not_the_one_that_signed_up(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    mallory_downloads_adas_guide(site)
    squatted = tables.contact_by_email(ADA)
    assert squatted.consent["email:marketing"].status == "pending"

    # Ada wants the guides after all: she confirms from her inbox, in her browser V
    page = confirm_in_browser(site, ADA)
    [link] = _SITE_LINK.findall(page)
    land(site, "V", link, "v-1")

    ada = assert_squat_left_behind(site, tables, squatted.contact_id)
    assert sorted(ada.actors) == ["anon:V", f"email:{ADA}"]
    # her confirmation stays hers: the consent is granted on her contact
    assert ada.consent["email:marketing"].status == "granted"
    assert "email:marketing" not in contact(tables, tables.contact_for_actor("anon:M")).consent
    assert site.errors == []


def test_a_confirmation_from_a_browser_on_the_sites_domain_proves_that_browser(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    mallory_downloads_adas_guide(site)
    squatted = tables.contact_by_email(ADA)

    # Ada confirms; the link is on the site's domain, so it gets her browser's cookie (V),
    # written by analytics.js in the older, URL-encoded JSON form
    confirm_in_browser(site, ADA, cookie="%22V%22")

    ada = assert_squat_left_behind(site, tables, squatted.contact_id)
    assert sorted(ada.actors) == ["anon:V", f"email:{ADA}"]
    assert ada.adopted_by == "double_opt_in"
    assert ada.consent["email:marketing"].status == "granted"
    joined = [a for a in tables.activities_of(ada) if a.properties.get("via") == "confirmation"]
    assert [j.properties["actors"] for j in joined] == [["anon:V"]]
    assert site.errors == []


def test_a_squatted_user_id_with_an_address_of_the_squatters_gets_none_of_the_users_events(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    # Mallory claims Ada's user id with her own address, so Ada's events would mail her
    post(
        site,
        "/v1/identify",
        {"userId": "u-ada", "anonymousId": "M", "traits": {"email": "mallory@evil.example"}},
    )
    mallory = tables.contact_by_email("mallory@evil.example")
    assert "user:u-ada" in mallory.actors

    # the site's backend sends Ada's activity by her user id
    post(
        site,
        "/v1/track",
        {"userId": "u-ada", "messageId": "order-1", "event": "Demo Requested"},
        SECRET,
    )

    mallory = tables.contact_by_email("mallory@evil.example")
    owner = tables.contact_for_actor("user:u-ada")
    assert owner not in (None, mallory.contact_id) and "user:u-ada" not in mallory.actors
    assert "order-1" not in history(tables, mallory) and mallory.score == 0
    assert "order-1" in history(tables, contact(tables, owner))
    assert site.errors == []


def test_a_squatters_public_alias_and_claims_join_nothing_before_or_after(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    mallory_downloads_adas_guide(site)
    squatted = tables.contact_by_email(ADA)
    # Mallory aliases her browser to Ada's user id; Ada's own browser names her address
    post(site, "/v1/alias", {"previousId": "M", "userId": "u-ada", "messageId": "m-alias"})
    post(site, "/v1/identify", {"anonymousId": "A", "messageId": "a-id", "traits": {"email": ADA}})
    after = tables.contact_by_email(ADA)
    assert sorted(after.actors) == ["anon:M", f"email:{ADA}"]  # the claim joined nothing
    assert tables.contact_for_actor("user:u-ada") is None  # the alias was refused
    assert tables.contact_for_actor("anon:A") is None

    # the backend names Ada's browser A and her user id: those are kept, M is not
    post(
        site,
        "/v1/identify",
        {"userId": "u-ada", "anonymousId": "A", "messageId": "b-1", "traits": {"email": ADA}},
        SECRET,
    )
    ada = assert_squat_left_behind(site, tables, squatted.contact_id)
    assert sorted(ada.actors) == ["anon:A", f"email:{ADA}", "user:u-ada"]
    assert site.errors == []


def test_trusted_calls_by_a_browser_id_or_a_user_id_adopt_nothing(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    # Mallory's squat carries Ada's user id too
    pricing(site, "M", "m-1")
    post(
        site,
        "/v1/identify",
        {"userId": "u-ada", "anonymousId": "M", "messageId": "m-id", "traits": {"email": ADA}},
    )
    squatted = tables.contact_by_email(ADA)
    assert sorted(squatted.actors) == ["anon:M", f"email:{ADA}", "user:u-ada"]

    # the backend speaks of the browser M alone (server-side tracking of the visitor)
    post(site, "/v1/identify", {"anonymousId": "M", "traits": {"plan": "pro"}}, SECRET)
    post(site, "/v1/group", {"anonymousId": "M", "groupId": "acme"}, SECRET)
    # and of Ada's user id, without her address yet
    post(site, "/v1/identify", {"userId": "u-ada", "traits": {"plan": "pro"}}, SECRET)

    # the browser's: said of whoever holds it, adopting nothing; the user id moved
    after = tables.contact_by_email(ADA)
    assert after.adopted_by is None and (after.fields, after.account_id) == (
        {"plan": "pro"},
        "acme",
    )
    assert sorted(after.actors) == ["anon:M", f"email:{ADA}"]
    own = contact(tables, tables.contact_for_actor("user:u-ada"))
    assert own.email is None and own.fields == {"plan": "pro"} and own.created_trust == "secret"

    # when the backend names her address with her user id, the address is adopted without M
    post(site, "/v1/identify", {"userId": "u-ada", "traits": {"email": ADA}}, SECRET)
    ada = tables.contact_by_email(ADA)
    assert ada.contact_id == squatted.contact_id
    assert sorted(ada.actors) == [f"email:{ADA}", "user:u-ada"]
    assert "m-1" not in history(tables, ada) and ada.score == 0
    assert (ada.fields, ada.account_id) == ({}, None)  # what M's holder was told left with M
    orphan = contact(tables, tables.contact_for_actor("anon:M"))
    assert orphan.contact_id != ada.contact_id and orphan.account_id == "acme"
    assert site.errors == []


def test_the_score_is_counted_again_from_what_the_adopted_contact_kept(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    # a sign-up that named a user id and a browser; both browse (pricing 15, a case study 8)
    body = {"userId": "u-ada", "anonymousId": "M", "messageId": "s-id", "traits": {"email": ADA}}
    post(site, "/v1/identify", body)
    page = {"name": "Pricing", "context": {"page": {"url": f"{SITE}/pricing"}}}
    post(site, "/v1/page", {**page, "userId": "u-ada", "messageId": "u-1"})
    page = {"name": "Case", "context": {"page": {"url": f"{SITE}/case-studies/acme"}}}
    post(site, "/v1/page", {**page, "anonymousId": "M", "messageId": "m-1"})
    assert tables.contact_by_email(ADA).score == 23

    # the backend names the address and the user id, not the browser
    post(site, "/v1/identify", {"userId": "u-ada", "traits": {"email": ADA}}, SECRET)

    ada = tables.contact_by_email(ADA)
    assert sorted(ada.actors) == [f"email:{ADA}", "user:u-ada"]
    assert ada.score == 15 and "u-1" in history(tables, ada)  # the user id's, counted again
    assert contact(tables, tables.contact_for_actor("anon:M")).score == 8
    # and nothing is counted twice when more comes
    post(site, "/v1/page", {**page, "userId": "u-ada", "messageId": "u-2"})
    assert tables.contact_by_email(ADA).score == 23
    assert site.errors == []


# --- the legitimate flows -------------------------------------------------------------------


def test_sign_up_confirm_in_the_same_browser_then_log_in_keeps_everything(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    # Ada browses, signs up for the newsletter, confirms from her inbox in the same browser
    pricing(site, "A", "a-1")
    post(
        site,
        "/v1/forms/newsletter-signup",
        {"email": ADA, "first_name": "Ada", "consent_newsletter": "on", "anonymousId": "A"},
    )
    signed_up = tables.contact_by_email(ADA)
    page = confirm_in_browser(site, ADA)
    [link] = _SITE_LINK.findall(page)
    land(site, "A", link, "a-2")
    assert tables.contact_by_email(ADA).adopted_by == "signed_link"

    # later she logs in; the backend identifies her by email and user id (no browser id)
    post(site, "/v1/identify", {"userId": "u-ada", "traits": {"email": ADA}}, SECRET)

    ada = tables.contact_by_email(ADA)
    assert ada.contact_id == signed_up.contact_id
    assert sorted(ada.actors) == ["anon:A", f"email:{ADA}", "user:u-ada"]
    assert {"a-1", "a-2"} <= history(tables, ada) and ada.first_name == "Ada"
    assert ada.score == 15 and ada.consent["email:newsletter"].status == "granted"
    assert run_status(site, ada.contact_id, "welcome") == "started"
    assert len(tables.contacts()) == 1
    assert [e for e in site.outbox if e.tags.get("program_id") == "welcome"][0].to == [ADA]
    assert site.errors == []


def test_sign_up_and_confirm_with_the_sites_cookie_then_the_backend_without_it(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    pricing(site, "A", "a-1")
    post(
        site,
        "/v1/forms/newsletter-signup",
        {"email": ADA, "first_name": "Ada", "consent_newsletter": "on", "anonymousId": "A"},
    )
    confirm_in_browser(site, ADA, cookie="A")
    post(site, "/v1/identify", {"userId": "u-ada", "traits": {"email": ADA}}, SECRET)

    ada = tables.contact_by_email(ADA)
    assert ada.adopted_by == "double_opt_in" and len(tables.contacts()) == 1
    assert sorted(ada.actors) == ["anon:A", f"email:{ADA}", "user:u-ada"]
    assert "a-1" in history(tables, ada) and ada.first_name == "Ada" and ada.score == 15
    assert run_status(site, ada.contact_id, "welcome") == "started"
    assert site.errors == []


def test_never_confirmed_the_backend_keeps_the_browser_it_names(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    pricing(site, "A", "a-1")
    post(
        site,
        "/v1/forms/guide-download",
        {"email": ADA, "first_name": "Ada", "guide": "scoring", "anonymousId": "A"},
    )
    signed_up = tables.contact_by_email(ADA)

    # the backend names her browser's anonymousId at login: all of it is hers
    post(
        site,
        "/v1/identify",
        {"userId": "u-ada", "anonymousId": "A", "traits": {"email": ADA}},
        SECRET,
    )

    ada = tables.contact_by_email(ADA)
    assert ada.contact_id == signed_up.contact_id and len(tables.contacts()) == 1
    assert sorted(ada.actors) == ["anon:A", f"email:{ADA}", "user:u-ada"]
    assert ada.first_name == "Ada" and ada.fields == {"guide_topic": "scoring"}
    assert "a-1" in history(tables, ada) and ada.score == 25
    assert run_status(site, ada.contact_id, "content-program") == "started"
    assert site.errors == []


def test_a_second_device_click_on_an_adopted_contact_just_joins_it(
    site: LocalCloud, tables_of: Tables
) -> None:
    tables = tables_of
    pricing(site, "A", "a-1")
    post(site, "/v1/identify", {"userId": "u-ada", "anonymousId": "A", "traits": {"email": ADA}})
    post(site, "/v1/identify", {"userId": "u-ada", "traits": {"email": ADA}}, SECRET)
    first = tables.contact_by_email(ADA)
    assert first.adopted_by == "secret" and "anon:A" not in first.actors  # not named: left

    # her phone's browser P follows a signed link emailed to her
    from nurture.delivery.clicks import click_token

    token = click_token(
        [LOCAL_SECRETS["link-signing-secrets"]],
        first.contact_id,
        int(site.clock.now().timestamp()) + 3600,
    )
    land(site, "P", f"{SITE}/?{CLICK_PARAM}={token}", "p-1")

    ada = tables.contact_by_email(ADA)
    assert sorted(ada.actors) == ["anon:P", f"email:{ADA}", "user:u-ada"]
    assert len([a for a in tables.activities_of(ada) if a.name == "contact.actors_released"]) == 1
    assert site.errors == []


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def tables_of(site: LocalCloud) -> Tables:
    return Tables(site)


def confirm_in_browser(cloud: LocalCloud, to: str, cookie: str | None = None) -> str:
    """Open the confirmation email's link and press its button; returns the page shown.
    `cookie`: the anonymous id in the browser's analytics.js cookie, which the link receives
    when the API is on a domain of the site's."""
    [email] = confirmations(cloud, to=to)[-1:]
    [path] = re.findall(r"https?://[^/\s]+(/c/[\w.-]+)", email.text)
    headers = {**FORM_POST, **({"Cookie": f"ajs_anonymous_id={cookie}"} if cookie else {})}
    status, _, page = cloud.http("POST", path, "", headers=headers, write_key=None)
    assert status == 200, page
    return str(page)
