"""A salesperson's "Interested, but not now" button in headless Chromium: the link opens a
confirmation page (the GET changes nothing), the form is filled in and submitted under the
page's Content-Security-Policy, and the lead is recycled with the reason typed. A forged
link shows a refusal page.

Needs Debian's `chromium` (in `make test`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.server import LocalApi
from tests.integration.sales_helpers import (
    CRM_SECRET,
    button,
    contact_by_email,
    emails_to,
    named,
    warm_up,
)

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ANNA = "anna@sales.example.com"


@pytest.fixture
def stack() -> Iterator[tuple[LocalCloud, LocalApi]]:
    import json

    secrets = {"webhook-secrets": json.dumps({"default": "x" * 32, "crm": CRM_SECRET})}
    cloud = LocalCloud(secrets=secrets).start()
    api = LocalApi(cloud, port=0).start()
    try:
        cloud.sync_content(only=["b2b"])
        yield cloud, api
    finally:
        api.stop()
        cloud.__exit__()


@pytest.fixture
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def test_not_now_answered_in_a_real_browser(
    stack: tuple[LocalCloud, LocalApi], browser: Any
) -> None:
    cloud, api = stack
    warm_up(cloud, "u-ada", "ada@engines.example")
    [mail] = emails_to(cloud, ANNA)
    link = api.url + button(mail, "Interested, but not now")
    page = browser.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )

    page.goto(link)
    assert "Interested, but not now" in page.content()
    assert contact_by_email(cloud, "ada@engines.example").stage == "mql"  # the GET did nothing
    page.fill("input[name=days]", "45")
    page.fill("textarea[name=reason]", "Budget <opens> in Q3")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "back in nurturing" in page.content()
    assert violations == []

    ada = contact_by_email(cloud, "ada@engines.example")
    assert ada.stage == "recycled"
    [recycled] = named(cloud, ada, "lead.recycled")
    assert recycled.properties["reason"] == "Budget <opens> in Q3"
    assert recycled.properties["recycle_days"] == 45

    # a forged link is refused, with a page saying so
    token = link.rsplit("/", 1)[1]
    forged = (
        link.rsplit("/", 1)[0] + "/" + token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    )
    response = page.goto(forged)
    assert response is not None and response.status == 403
    assert "not valid" in page.content()
