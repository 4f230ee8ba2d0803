"""Email addresses and phone numbers as people type them: one person is one contact key
(IDN domains included), and what is not one deliverable address or one real number is a
4xx naming the field, never a contact or a recipient."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

FORM = "/v1/forms/t-contact"
FORM_YAML = """
id: t-contact
fields:
  - {name: email, contact_field: email, required: true, type: email}
  - {name: first_name, contact_field: first_name}
  - {name: mobile, contact_field: phone, type: phone}
"""


@pytest.fixture
def site(cloud: LocalCloud) -> LocalCloud:
    cloud.upload("forms/t-contact.yaml", FORM_YAML)
    return cloud


def identify(cloud: LocalCloud, traits: dict[str, Any], user: str = "u-1") -> Any:
    return cloud.http(
        "POST", "/v1/identify", {"userId": user, "traits": traits}, write_key="local-secret-key"
    )


def test_an_idn_address_in_either_form_is_one_contact(site: LocalCloud, tables: Tables) -> None:
    # When Ada signs up with her address in Unicode, then the site's backend names it in
    # its ASCII (IDNA) form, and once more in mixed case
    status, _, _ = site.http("POST", FORM, {"email": "Ada@Bücher.de", "first_name": "Ada"})
    assert status == 202
    status, _, _ = identify(site, {"email": "ada@xn--bcher-kva.de", "last_name": "Lovelace"})
    assert status == 200
    status, _, _ = identify(site, {"email": " ADA@BÜCHER.DE "}, user="u-1")
    assert status == 200

    # Then there is one contact, keyed and addressed in the form SES sends to
    [ada] = tables.contacts()
    assert ada.email == "ada@xn--bcher-kva.de"
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
    assert tables.contact_for_actor("email:ada@xn--bcher-kva.de") == ada.contact_id
    assert site.errors == []


def test_an_ascii_address_keeps_the_key_it_always_had(site: LocalCloud, tables: Tables) -> None:
    status, _, _ = site.http("POST", FORM, {"email": "  Grace.Hopper+news@Navy.Example "})
    assert status == 202
    [grace] = tables.contacts()
    assert grace.email == "grace.hopper+news@navy.example"
    assert tables.contact_for_actor("email:grace.hopper+news@navy.example") == grace.contact_id


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com\r\nBcc: eve@example.com",
        "ada\r\n@example.com",
        "ada@example.com\x00",
        "ada@example.com, eve@example.com",
        "ada@example.com;eve@example.com",
        "Ada <ada@example.com>",
        "ada@localhost",
        "ada@printer.local",
        "ädä@example.com",  # SES takes no SMTPUTF8 mailbox
        "ada@@example.com",
    ],
)
def test_an_address_that_is_not_one_mailbox_is_refused_by_field(
    site: LocalCloud, tables: Tables, address: str
) -> None:
    # On a form
    status, _, body = site.http("POST", FORM, {"email": address})
    assert status == 400
    [error] = body["errors"]
    assert error["field"] == "email"
    assert error["reason"].startswith("is not a valid email address: ")
    # and in an identify call (traits, or context.traits where some SDKs put them)
    status, _, body = identify(site, {"email": address})
    assert status == 400
    assert [e["field"] for r in body["results"] for e in r["errors"]] == ["traits.email"]
    status, _, body = site.http(
        "POST",
        "/v1/identify",
        {"userId": "u-2", "context": {"traits": {"email": address}}},
        write_key="local-secret-key",
    )
    assert status == 400
    assert [e["field"] for r in body["results"] for e in r["errors"]] == ["context.traits.email"]
    # Nothing stored, no contact, nothing sent
    assert tables.activity_items() == []
    assert tables.contact_items() == []
    assert site.outbox == []
    assert site.errors == []


def test_a_real_phone_number_is_stored_in_e164(site: LocalCloud, tables: Tables) -> None:
    status, _, _ = site.http(
        "POST", FORM, {"email": "ada@example.com", "mobile": "00358 40 123-4567"}
    )
    assert status == 202
    status, _, _ = identify(site, {"email": "bo@example.com", "phone": "+1 (650) 253-0000"})
    assert status == 200
    phones = {c.email: c.phone for c in tables.contacts()}
    assert phones == {"ada@example.com": "+358401234567", "bo@example.com": "+16502530000"}


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+44 7700 900123", "not a number in the numbering plan of GB"),  # Ofcom drama range
        ("+358 40", "numbering plan of FI"),
        ("040 123 4567", "no country code"),  # DEFAULT_COUNTRY_CODE is not set here
        ("+999 123 4567", "no known country code"),
        ("call me", "no country code"),
        ("+1 650 253 0000 ext. 12", "extension"),
        ("+" + "1" * 80, "1 to 64 characters"),
    ],
)
def test_a_number_outside_every_numbering_plan_is_refused_by_field(
    site: LocalCloud, tables: Tables, number: str, reason: str
) -> None:
    status, _, body = site.http("POST", FORM, {"email": "ada@example.com", "mobile": number})
    assert status == 400
    [error] = body["errors"]
    assert error["field"] == "mobile"
    assert reason in error["reason"]
    status, _, body = identify(site, {"email": "ada@example.com", "phone": number})
    assert status == 400
    [[error]] = [r["errors"] for r in body["results"]]
    assert error["field"] == "traits.phone"
    assert reason in error["reason"]
    assert tables.activity_items() == []
    assert tables.contact_items() == []
    assert site.errors == []
