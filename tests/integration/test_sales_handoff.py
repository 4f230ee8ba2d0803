"""The MQL crossing hands the lead to its owner in the same chain of invocations, and the
owner answers through signed links (GET shows, POST acts; tampered links refused)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sales_helpers import button, contact_by_email, emails_to, named, sales_cloud, warm_up

pytestmark = pytest.mark.integration

ANNA, ERIK = "anna@sales.example.com", "erik@sales.example.com"


def test_mql_crossing_notifies_the_owner_in_the_same_chain() -> None:
    with sales_cloud() as cloud:
        warm_up(cloud, "u-ada", "ada@engines.example")
        # No advance, no schedule: the http() calls ran everything they caused.
        ada = contact_by_email(cloud, "ada@engines.example")
        assert ada.stage == "mql"
        assert ada.fields["owner"] == ANNA  # FI -> nordics, round robin starts at anna
        [mail] = emails_to(cloud, ANNA)
        assert mail.subject == "Sales-ready lead: Ada Lovelace (Analytical Engines)"
        assert "Score:   55, grade A" in mail.text
        assert "requested a demo" in mail.text and "viewed the pricing page" in mail.text
        assert "viewed Pricing" in mail.text
        assert mail.sent_at == cloud.clock.now()
        # the notification is a service email to a colleague, not tagged with the lead
        assert mail.tags.get("purpose") == "service" and "contact_id" not in mail.tags
        [assigned] = named(cloud, ada, "lead.assigned")
        assert assigned.properties["how"] == "rule 2: round robin in nordics"
        assert named(cloud, ada, "sales.notified")[0].properties["owner"] == ANNA
        assert cloud.errors == []


def test_accept_through_the_signed_link() -> None:
    with sales_cloud() as cloud:
        warm_up(cloud, "u-ada", "ada@engines.example")
        [mail] = emails_to(cloud, ANNA)
        accept = button(mail, "Accept")
        # A GET (a mail scanner prefetching) shows a form and changes nothing.
        status, headers, page = cloud.http("GET", accept, write_key=None)
        assert status == 200 and '<form method="post">' in page
        assert headers["Cache-Control"] == "no-store"
        assert contact_by_email(cloud, "ada@engines.example").stage == "mql"
        cloud.advance(timedelta(minutes=42))
        status, _, page = cloud.http("POST", accept, b"", write_key=None)
        assert status == 200 and "Accepted" in page
        ada = contact_by_email(cloud, "ada@engines.example")
        assert ada.stage == "sql"
        [accepted] = named(cloud, ada, "lead.accepted")
        assert accepted.properties["mql_to_accepted_seconds"] == 42 * 60
        assert accepted.properties["mql_to_first_touch_seconds"] == 42 * 60
        assert accepted.properties["by"] == ANNA
        changes = [a.properties for a in named(cloud, ada, "contact.stage_changed")]
        assert {"from": "mql", "to": "sql", "by": "lead.accepted"} in changes
        # Posting again records nothing new.
        status, _, page = cloud.http("POST", accept, b"", write_key=None)
        assert status == 200 and "Already done" in page
        assert len(named(cloud, ada, "lead.accepted")) == 1
        assert cloud.errors == []


def test_not_a_fit_with_a_reason_and_tampered_links_refused() -> None:
    with sales_cloud() as cloud:
        warm_up(cloud, "u-ada", "ada@engines.example")
        [mail] = emails_to(cloud, ANNA)
        disqualify = button(mail, "Not a fit")
        token = disqualify.removeprefix("/sales/")
        payload, _, mac = token.partition(".")
        forged = "/sales/" + payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
        for bad in (forged, "/sales/not-a-token", "/sales/" + payload + ".", disqualify + "x"):
            for method in ("GET", "POST"):
                status, _, page = cloud.http(method, bad, b"reason=x", write_key=None)
                assert 400 <= status < 500, (bad, method, status)
        # An answer link cannot be turned into another answer: the answer is signed.
        accept_token = button(mail, "Accept").removeprefix("/sales/")
        mixed = "/sales/" + accept_token.partition(".")[0] + "." + mac
        assert cloud.http("POST", mixed, b"", write_key=None)[0] == 403
        assert contact_by_email(cloud, "ada@engines.example").stage == "mql"

        status, _, page = cloud.http(
            "POST",
            disqualify,
            b"reason=Student+project%2C+no+budget",
            {"content-type": "application/x-www-form-urlencoded"},
            write_key=None,
        )
        assert status == 200, page
        ada = contact_by_email(cloud, "ada@engines.example")
        assert ada.stage == "disqualified"
        [answer] = named(cloud, ada, "lead.disqualified")
        assert answer.properties["reason"] == "Student project, no budget"
        # The other buttons of the same email no longer act.
        assert cloud.http("POST", button(mail, "Accept"), b"", write_key=None)[0] == 409


def test_expired_link_refused() -> None:
    with sales_cloud() as cloud:
        warm_up(cloud, "u-ada", "ada@engines.example")
        [mail] = emails_to(cloud, ANNA)
        cloud.advance(timedelta(days=31))
        status, _, page = cloud.http("POST", button(mail, "Accept"), b"", write_key=None)
        assert status == 400 and "expired" in page
        assert contact_by_email(cloud, "ada@engines.example").stage == "mql"


def test_content_mistakes_are_recorded_not_retried() -> None:
    """A missing notification template or a broken team file is a marketer's mistake: the
    lead is still handed over as far as possible and the reason is on the contact; the
    stream is not blocked retrying it."""
    with sales_cloud() as cloud:
        cloud.client("s3").delete_object(Bucket=cloud.bucket, Key="templates/email/sales-mql.yaml")
        warm_up(cloud, "u-ada", "ada@engines.example")
        ada = contact_by_email(cloud, "ada@engines.example")
        assert ada.stage == "mql" and ada.fields["owner"] == ANNA
        [skipped] = named(cloud, ada, "sales.notify_skipped")
        assert skipped.properties["reason"] == "template_error"
        assert "sales-mql" in skipped.properties["detail"]
        assert emails_to(cloud, ANNA) == []
        assert cloud.errors == []


def test_no_team_file_falls_back_to_the_sales_address() -> None:
    with sales_cloud() as cloud:
        cloud.client("s3").delete_object(Bucket=cloud.bucket, Key="sales/team.yaml")
        warm_up(cloud, "u-ada", "ada@engines.example")
        ada = contact_by_email(cloud, "ada@engines.example")
        # SalesEmail is empty locally: nobody to give the lead to, and that is recorded
        assert "owner" not in ada.fields
        assert len(named(cloud, ada, "lead.unassigned")) == 1
        assert cloud.errors == []


def test_programs_start_on_the_hand_off_and_on_answers() -> None:
    """sales-ready's call task goes to the owner the hand-off assigned (the owner is set
    before programs react to the MQL stage change), and a program can start on an answer."""
    with sales_cloud() as cloud:
        cloud.sync_content(only=["sales-ready"])
        cloud.upload(
            "programs/after-accept.yaml",
            "id: after-accept\nname: Brief the account team\ntrigger:\n  event: lead.accepted\n"
            "steps:\n  - {id: brief, type: create_task, title: Brief the account team, "
            "assignee: owner, due: 1 day}\n",
        )
        warm_up(cloud, "u-ada", "ada@engines.example")
        ada = contact_by_email(cloud, "ada@engines.example")
        [call] = named(cloud, ada, "task.created")
        assert call.properties["assignee"] == ANNA
        assert call.properties["program_id"] == "sales-ready"
        cloud.http("POST", button(emails_to(cloud, ANNA)[0], "Accept"), b"", write_key=None)
        tasks = [t.properties for t in named(cloud, ada, "task.created")]
        assert {(t["program_id"], t["assignee"]) for t in tasks} == {
            ("sales-ready", ANNA),
            ("after-accept", ANNA),
        }
        assert cloud.errors == []
