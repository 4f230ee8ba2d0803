"""The example site in headless Chromium, with Segment's own analytics.js (from the npm
package) posting to the local API: anonymous visits, the guide form that makes them a
contact's, and a Nurture email's signed link opened in a fresh browser that identifies the
visit as the contact's. Everything is asserted in the tables.

Needs Debian's `chromium` and `npm ci --prefix examples/site` (both in `make test`).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import sync_playwright

from localcloud import LocalCloud
from localcloud.server import LocalApi
from nurture.delivery.clicks import CLICK_PARAM
from tests.conftest import Tables

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EMAIL = "grace@example.com"


def _site_module() -> Any:
    spec = importlib.util.spec_from_file_location("example_site", ROOT / "examples/site/serve.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["example_site"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stack() -> Iterator[tuple[LocalCloud, str, str]]:
    """The local cloud behind its HTTP API, and the example site, on 127.0.0.1 ports."""
    cloud = LocalCloud(parameters={"SiteHosts": "127.0.0.1"}).start()
    api = LocalApi(cloud, port=0).start()
    site = _site_module().SiteServer(api.url).start()
    try:
        cloud.sync_content(only=["content-program"])
        # a Nurture email that links to the site, sent to whoever downloads the guide
        cloud.upload(
            "templates/email/e2e-pricing.yaml",
            "subject: Plans for your team\n"
            f"html: '<p><a href=\"{site.url}/pricing.html?utm_source=email\">See the plans</a></p>'\n"
            f"text: 'See the plans: {site.url}/pricing.html?utm_source=email'\n",
        )
        cloud.upload(
            "programs/e2e-pricing.yaml",
            "id: e2e-pricing\nname: Pricing after the guide\ntrigger:\n  form: guide-download\n"
            "steps:\n  - {id: plans, type: send_email, template: e2e-pricing, purpose: service}\n",
        )
        yield cloud, site.url, api.url
    finally:
        site.stop()
        api.stop()
        cloud.__exit__()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def browse(page: Any, cloud: LocalCloud, url: str) -> None:
    with page.expect_response(lambda r: r.url.endswith("/v1/p") and r.request.method == "POST"):
        page.goto(url)
    cloud.run_until_idle()


def test_anonymous_visits_join_the_contact_from_the_form_and_the_email_click(
    stack: tuple[LocalCloud, str, str], browser: Any
) -> None:
    cloud, site, api = stack
    tables = Tables(cloud)

    # A visitor browses the site anonymously: home, a product, pricing
    first = browser.new_context()
    page = first.new_page()
    browse(page, cloud, f"{site}/")
    with page.expect_response(lambda r: r.url.endswith("/v1/t")):
        browse(page, cloud, f"{site}/product.html")
    browse(page, cloud, f"{site}/pricing.html")
    cloud.run_until_idle()
    anonymous_id = page.evaluate("analytics.user().anonymousId()")
    visits = tables.activities(f"anon:{anonymous_id}")
    assert sorted(a.page.get("path") for a in visits if a.kind == "page") == [
        "/",
        "/pricing.html",
        "/product.html",
    ]
    [viewed] = [a for a in visits if a.kind == "track"]
    assert viewed.name == "Product Viewed" and viewed.properties["product_id"] == "nurture-cloud"
    assert {a.trust for a in visits} == {"public"}
    assert tables.contacts() == []  # still anonymous

    # It downloads the guide: the form makes a new contact, and the visits are theirs
    browse(page, cloud, f"{site}/guide.html")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=first_name]", "Grace")
    page.check("input[name=consent_marketing]")
    with page.expect_response(lambda r: "/v1/forms/guide-download" in r.url) as posted:
        page.click("button[type=submit]")
    assert posted.value.status == 202
    cloud.run_until_idle()
    contact = tables.contact_by_email(EMAIL)
    assert contact.first_name == "Grace"
    assert tables.contact_for_actor(f"anon:{anonymous_id}") == contact.contact_id
    history = {(a.kind, a.page.get("path")) for a in tables.activities_of(contact)}
    assert {("page", "/"), ("page", "/product.html"), ("page", "/pricing.html")} <= history
    assert ("form", None) in {
        (a.kind, a.page.get("path") or None) for a in tables.activities_of(contact)
    }
    # She confirms from her inbox in this browser: that proves this browser is hers (a public
    # form alone proves nothing: README, "Who may change a contact") - by its analytics.js
    # cookie, which reaches the API here (the same host), or else by the signed click token
    # of the page's link on to the site
    [confirmation] = [e for e in cloud.outbox if e.tags.get("kind") == "double_opt_in"]
    [confirm_path] = re.findall(r"https?://[^/\s]+(/c/[\w.-]+)", confirmation.text)
    page.goto(f"{api}{confirm_path}")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your subscription is confirmed.")
    cloud.run_until_idle()
    onward = page.get_attribute("a", "href")
    assert onward and parse_qs(urlsplit(onward).query)[CLICK_PARAM]
    # (the link names the site's host; locally the site is on a port of it)
    browse(page, cloud, f"{site}/?{urlsplit(onward).query}")
    adopted = tables.contact_by_email(EMAIL)
    assert adopted.adopted_by in ("double_opt_in", "signed_link")
    assert f"anon:{anonymous_id}" in adopted.actors
    first.close()

    # Nurture emails the contact; the link to the site carries a signed click token
    [email] = [e for e in cloud.outbox if e.tags.get("program_id") == "e2e-pricing"]
    [link] = [u for u in email.links() if u.startswith(site)]
    assert parse_qs(urlsplit(link).query)[CLICK_PARAM]

    # Opened in a fresh browser (another device: a new anonymous id), the visit is theirs
    fresh = browser.new_context()
    page = fresh.new_page()
    browse(page, cloud, link)
    phone_id = page.evaluate("analytics.user().anonymousId()")
    assert phone_id != anonymous_id
    [landing] = [a for a in tables.activities(f"anon:{phone_id}") if a.kind == "page"]
    assert landing.trust == "signed_link" and landing.contact_id == contact.contact_id
    assert tables.contact_for_actor(f"anon:{phone_id}") == contact.contact_id
    # and what that browser does next is the contact's too
    browse(page, cloud, f"{site}/product.html")
    contact = tables.contact_by_email(EMAIL)
    paths = [a.page.get("path") for a in tables.activities_of(contact) if a.kind == "page"]
    assert paths.count("/product.html") == 2 and paths.count("/pricing.html") == 2
    assert paths.count("/") == 2  # the first browser's landing after confirming, too
    fresh.close()
    assert cloud.errors == []
