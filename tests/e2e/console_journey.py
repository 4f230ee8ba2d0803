"""The scripted journey the console tests look at: three newsletter sign-ups (double opt-in)
into the welcome program, opens and clicks, three days of virtual time, a hard bounce and a
complaint (two suppressions), and a lead who warms up to MQL so that sales-ready gives her
owner a call task. Then the admin API is asked, SigV4-signed, what the console should show."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

from localcloud import LocalCloud
from localcloud.iam_auth import sign
from localcloud.server import LocalApi
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts
from nurture.predictive.model import Scored
from nurture.predictive.scores import store_score
from tests.integration.signup import sign_up

PEOPLE = {
    "ada@example.com": "Ada",
    "bob@example.com": "Bob",
    "cy@example.com": "Cy",
}
LEAD = "grace@navy-labs.example"
# an A/B test on the same sign-ups: which first email makes people buy
AB_PROGRAM = """\
id: welcome-ab
name: Which first email sells
trigger:
  event: consent.confirmed
  where: {form: newsletter-signup}
goals: [{name: bought, event: Order Completed}]
steps:
  - id: pick
    type: split
    variants:
      - {name: A, percent: 50, next: send-a}
      - {name: B, percent: 50, next: send-b}
  - {id: send-a, type: send_email, template: welcome-1, purpose: service, next: later}
  - {id: send-b, type: send_email, template: welcome-2b, purpose: service, next: later}
  - {id: later, type: wait, duration: 7 days}
"""


def play(cloud: LocalCloud) -> None:
    cloud.upload("programs/welcome-ab.yaml", AB_PROGRAM)
    assert json.loads(cloud.read("programs/welcome-ab.status.json") or "{}")["status"] == "live"
    for email, name in PEOPLE.items():
        sign_up(cloud, {"email": email, "first_name": name, "consent_newsletter": True})
    welcome = {e.to[0]: e for e in cloud.outbox if e.tags.get("program_id") == "welcome"}
    assert len(welcome) == 3
    cloud.advance(timedelta(hours=1))
    cloud.open_email(welcome["ada@example.com"])
    cloud.click_email(welcome["ada@example.com"])
    cloud.open_email(welcome["bob@example.com"])
    cloud.advance(timedelta(days=3, hours=1))
    # Bob's mailbox is gone; Cy marks a welcome email as spam
    cloud.ses_event(
        welcome["bob@example.com"],
        "Bounce",
        {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": "bob@example.com"}],
        },
    )
    cloud.ses_event(
        welcome["cy@example.com"],
        "Complaint",
        {
            "complainedRecipients": [{"emailAddress": "cy@example.com"}],
            "complaintFeedbackType": "abuse",
        },
    )
    cloud.run_until_idle()
    # Grace warms up: grade A, pricing, a demo request -> MQL -> sales-ready's call task
    traits = {
        "email": LEAD,
        "first_name": "Grace",
        "last_name": "Hopper",
        "job_title": "VP Engineering",
        "company": "Navy Labs",
        "country": "US",
        "company_industry": "software",
        "company_employees": 500,
    }
    # Ada buys (the shop's server, with the secret key): revenue for the attribution report
    for path, body in (
        ("/v1/identify", {"userId": "ada", "traits": {"email": "ada@example.com"}}),
        (
            "/v1/track",
            {"userId": "ada", "event": "Order Completed", "properties": {"revenue": 120}},
        ),
    ):
        status, _, answer = cloud.http("POST", path, body, write_key="local-secret-key")
        assert status == 200, answer
    for path, body in (
        ("/v1/identify", {"userId": "grace", "traits": traits}),
        ("/v1/page", {"userId": "grace", "properties": {"url": "https://example.com/pricing"}}),
        ("/v1/track", {"userId": "grace", "event": "demo_requested"}),
    ):
        status, _, answer = cloud.http("POST", path, body)
        assert status == 200, answer
    cloud.run_until_idle()
    predict(cloud, LEAD)
    assert cloud.errors == []


def predict(cloud: LocalCloud, email: str) -> None:
    """A predictive scoring run's write for one contact (nurture.predictive.scores, as the
    weekly training function stores it), with what a model version 3 would explain."""
    ddb = cloud.client("dynamodb")
    contacts = DynamoContacts(ddb, cloud.resolver.refs["ContactsTable"])
    [contact] = [c for c in contacts.scan() if c.email == email]
    activities = DynamoActivities(
        ddb, cloud.resolver.refs["ActivitiesTable"], cloud.resolver.refs["StateTable"]
    )
    factors = [
        {"text": "requested a demo", "points": 21},
        {"text": "viewed pricing", "points": 9},
        {"text": "no email opened in 30 days", "points": -4},
    ]
    scored = Scored(
        score=82,
        probability=0.82,
        log_odds=1.52,
        baseline=-1.1,
        contributions={"demo_requested": 1.9, "pricing_views": 0.8, "opens_30d": -0.3},
        factors=factors,
    )
    assert store_score(contacts, activities, contact.contact_id, scored, 3, "e2e-run-1")
    cloud.run_until_idle()


class Admin:
    """The admin API over HTTP, signed with the local credentials (as the console signs)."""

    def __init__(self, api: LocalApi):
        self.url = api.url

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        headers = sign(method, self.url + path, data)
        if body is not None:
            headers["content-type"] = "application/json"
        headers.pop("host", None)
        request = urllib.request.Request(  # noqa: S310 - our own localhost server
            self.url + path, data=data if body is not None else None, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def get(self, path: str) -> Any:
        status, answer = self.call("GET", path)
        assert status == 200, (path, status, answer)
        return answer

    def post(self, path: str, body: Any) -> Any:
        status, answer = self.call("POST", path, body)
        assert status == 200, (path, status, answer)
        return answer
