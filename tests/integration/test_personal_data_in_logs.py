"""The personal-data log check catches a leak: an email or phone number the test sent,
logged on purpose by each route a log line can take (a module logger at DEBUG, the
powertools logger, print() inside a function, a function's error) is reported."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from localcloud import LocalCloud
from tests.integration.personal_data import PersonalDataScan

pytestmark = pytest.mark.integration
EMAIL = "leaky.lena@example.org"
PHONE = "+358 40 765 4321"  # as typed; stored as +358407654321


def _sign_up(cloud: LocalCloud, email: str = EMAIL) -> None:
    status, _, answer = cloud.http(
        "POST",
        "/v1/identify",
        {"anonymousId": "v-1", "messageId": "m-1", "traits": {"email": email, "phone": PHONE}},
        write_key="local-secret-key",
    )
    assert status == 200, answer


def test_what_a_test_sends_is_what_the_scan_looks_for(
    cloud: LocalCloud, personal_data_scan: PersonalDataScan
) -> None:
    _sign_up(cloud)
    assert {EMAIL, PHONE, "+358407654321"} <= personal_data_scan.sent
    # the sender address is configuration, not a contact
    assert any("@" in c for c in personal_data_scan.configured)
    assert personal_data_scan.leaks() == []


@pytest.mark.parametrize("route", ["module logger at DEBUG", "powertools logger", "exception"])
def test_a_product_log_line_with_an_email_or_phone_is_a_leak(
    cloud: LocalCloud, personal_data_scan: PersonalDataScan, route: str
) -> None:
    _sign_up(cloud)
    if route == "module logger at DEBUG":
        logging.getLogger("nurture.delivery.sender").debug("sending to %s", EMAIL)
        leaked = EMAIL
    elif route == "powertools logger":
        Logger(service="nurture").info("texting", extra={"to": "+358407654321"})
        leaked = "+358407654321"
    else:
        try:
            raise ValueError(f"no such number {PHONE}")
        except ValueError:
            logging.getLogger("nurture.runtime").exception("it failed")
        leaked = PHONE

    leaks = personal_data_scan.leaks()
    assert leaks and {x.where for x in leaks} == {"log"}
    assert leaked in {x.value for x in leaks}
    personal_data_scan.clear()  # leaked on purpose


def test_printed_output_of_a_function_is_scanned(
    cloud: LocalCloud, personal_data_scan: PersonalDataScan, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = cloud.function_by_name("IngestFunction")
    original = ingest.handler

    def chatty(event: Any, context: Any) -> Any:
        print(f"got a request from {EMAIL}")  # noqa: T201 - the leak under test
        return original(event, context)

    monkeypatch.setattr(ingest, "handler", chatty)
    _sign_up(cloud)
    assert [(x.where, x.value) for x in personal_data_scan.leaks()] == [("stdout/stderr", EMAIL)]
    assert len(personal_data_scan.printed) >= 1
    personal_data_scan.clear()


@pytest.mark.expect_function_errors
def test_a_function_error_naming_a_contact_is_a_leak(
    cloud: LocalCloud, personal_data_scan: PersonalDataScan, monkeypatch: pytest.MonkeyPatch
) -> None:
    react = cloud.function_by_name("ReactFunction")

    def broken(event: Any, context: Any) -> Any:
        raise RuntimeError(f"cannot react for {EMAIL}")

    monkeypatch.setattr(react, "handler", broken)
    _sign_up(cloud)
    leaks = personal_data_scan.leaks()
    assert leaks and {(x.where, x.value) for x in leaks} == {("function error", EMAIL)}
    personal_data_scan.clear()


@pytest.mark.expect_function_errors  # whatever fails on the way must not name anyone either
def test_refusals_and_error_paths_with_personal_data_log_none_of_it(
    cloud: LocalCloud, personal_data_scan: PersonalDataScan
) -> None:
    """Requests that end in a refusal or an error, each carrying an email or a phone number.
    The suite-wide scan (the autouse fixture) fails this test on any leak; here we also
    check the refusals were logged, so the scan had lines to look at."""
    cloud.sync_content(only=[])
    other = "other.person@example.net"
    bad = [
        ("POST", "/v1/identify", {"messageId": "m-2", "traits": {"email": EMAIL}}),  # no id
        (
            "POST",
            "/v1/identify",
            {"userId": "u-1", "messageId": "m-3", "traits": {"email": f"{EMAIL}\r\nbcc: {other}"}},
        ),
        (
            "POST",
            "/v1/identify",
            {"userId": "u-2", "messageId": "m-4", "traits": {"phone": "+358 40 765 4321 ext"}},
        ),
        (
            "POST",
            "/v1/track",
            {"userId": "u-3", "event": "x" * 300, "properties": {"email": other}},
        ),
        ("POST", "/v1/batch", {"batch": [{"type": "identify", "traits": {"email": other}}]}),
        (
            "POST",
            "/v1/forms/newsletter-signup",
            {"email": f"{other}, {EMAIL}", "anonymousId": "v-2"},
        ),
        (
            "POST",
            "/v1/forms/newsletter-signup",
            {"email": "", "first_name": other, "anonymousId": "v-3"},
        ),
        ("POST", f"/v1/forms/{other}", {"email": other, "anonymousId": "v-4"}),
    ]
    statuses = []
    for method, path, body in bad:
        status, _, _ = cloud.http(method, path, body)
        statuses.append(status)
    assert all(400 <= s < 500 for s in statuses), statuses
    cloud.sms_reply("+358407654321", f"STOP {EMAIL}")
    cloud.run_until_idle()
    assert personal_data_scan.logged, "the refusals were not logged at all"
