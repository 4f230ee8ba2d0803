"""The daily digest: one email per salesperson each morning in their own time zone, their
contacts active since the last digest (meaningful activity only), highest score first, with
reasons and buttons, tasks due; nobody gets an empty one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sales_helpers import admin, contact_by_email, emails_to, post, sales_cloud, warm_up

from localcloud import LocalCloud
from nurture.adapters.dynamodb import DynamoState
from nurture.ports import Task

pytestmark = pytest.mark.integration

ANNA, MARIA, ERIK = "anna@s.example", "maria@s.example", "erik@s.example"
TEAM = f"""
owners:
  - {{email: {ANNA}, name: Anna, timezone: Europe/Helsinki}}
  - {{email: {MARIA}, name: Maria, timezone: America/New_York}}
  - {{email: {ERIK}, name: Erik, timezone: Europe/Stockholm}}
rules:
  - {{when: {{country: FI}}, owner: {ANNA}}}
  - {{when: {{country: US}}, owner: {MARIA}}}
default_owner: {ERIK}
"""


def _page(cloud: LocalCloud, user: str, url: str, message_id: str, **context: object) -> None:
    body: dict[str, object] = {
        "userId": user,
        "properties": {"url": url, "title": url.rsplit("/", 1)[-1] or url},
        "messageId": message_id,
    }
    if context:
        body["context"] = context
    post(cloud, "/v1/page", body)


def _digests(cloud: LocalCloud, owner: str) -> list:  # type: ignore[type-arg]
    return emails_to(cloud, owner, kind="sales_digest")


def test_digest_content_filter_order_and_time_zones() -> None:
    with sales_cloud(team=TEAM) as cloud:
        # Monday 09:00 UTC: Ada (FI) becomes an MQL; Cecil (FI, owned by Anna) only looks
        # around; Dora (FI) reads only the newsletter; Bob (US) becomes Maria's MQL.
        warm_up(cloud, "u-ada", "ada@engines.example")
        warm_up(cloud, "u-bob", "bob@corp.example", first_name="Bob", country="US")
        post(
            cloud,
            "/v1/identify",
            {
                "userId": "u-cecil",
                "messageId": "i-c",
                "traits": {
                    "email": "cecil@firm.example",
                    "first_name": "Cecil",
                    "country": "FI",
                    "owner": ANNA,
                },
            },
        )
        _page(cloud, "u-cecil", "https://example.com/solutions/crm", "c1")
        post(
            cloud,
            "/v1/identify",
            {
                "userId": "u-dora",
                "messageId": "i-d",
                "traits": {
                    "email": "dora@home.example",
                    "first_name": "Dora",
                    "country": "FI",
                    "owner": ANNA,
                },
            },
        )
        _page(cloud, "u-dora", "https://example.com/newsletter/january", "d1")
        _page(
            cloud,
            "u-ada",
            "https://example.com/blog/spring",
            "a-nl",
            campaign={"medium": "newsletter", "name": "jan"},
        )
        ada = contact_by_email(cloud, "ada@engines.example")
        # A task for Anna due tomorrow morning, another next week.
        state = DynamoState(cloud.client("dynamodb"), cloud.resolver.refs["StateTable"])
        for task_id, due in (
            ("call-ada", "2026-01-06T10:00:00.000Z"),
            ("later", "2026-01-12T10:00:00.000Z"),
        ):
            state.add_task(
                Task(
                    task_id=task_id,
                    assignee=ANNA,
                    title=f"Task {task_id}",
                    due=due,
                    created_at="2026-01-05T09:00:00.000Z",
                    contact_id=ada.contact_id,
                )
            )

        cloud.advance(timedelta(days=1, hours=12))  # to Tuesday 21:00 UTC
        [anna] = _digests(cloud, ANNA)
        [maria] = _digests(cloud, MARIA)
        assert _digests(cloud, ERIK) == []  # nothing to say: no email
        # 08:00 in Helsinki (UTC+2) the next day; 08:00 in New York (UTC-5) is still to
        # come on Monday when Bob turns up at 04:00 her time
        assert anna.sent_at == datetime(2026, 1, 6, 6, 0, tzinfo=UTC)
        assert maria.sent_at == datetime(2026, 1, 5, 13, 0, tzinfo=UTC)

        text = anna.text
        assert anna.subject == "Your leads today: 2 active, 1 task due"
        assert text.index("Ada Lovelace") < text.index("Cecil")  # by score: 55 before 5
        assert "score 55, grade A" in text
        assert "viewed Pricing" in text and "demo_requested" in text
        assert "spring" not in text  # read from a newsletter
        assert "Dora" not in text  # only newsletter reading
        assert "Task call-ada" in text and "Task later" not in text
        assert text.count("Accept: http") == 1  # Ada's hand-off awaits an answer; Cecil has none
        assert "Bob" in maria.text and "Ada" not in maria.text
        # the html part escapes and carries the same buttons
        assert anna.html.count("/sales/") >= 3

        # Wednesday: only what happened since Tuesday's digest; Thursday: nothing, no email.
        _page(cloud, "u-ada", "https://example.com/case-studies/acme", "a-cs")
        cloud.advance(timedelta(days=1))
        first, second = _digests(cloud, ANNA)
        assert second.sent_at == datetime(2026, 1, 7, 6, 0, tzinfo=UTC)
        assert "acme" in second.text and "Pricing" not in second.text
        assert "Cecil" not in second.text
        assert "Task call-ada" in second.text  # overdue tasks stay until they are done
        assert cloud.http("POST", f"/admin/tasks/{ANNA}/call-ada/done", write_key=None)[0] == 403
        assert admin(cloud, "POST", f"/admin/tasks/{ANNA}/call-ada/done")[0] == 200
        cloud.advance(timedelta(days=2))
        assert len(_digests(cloud, ANNA)) == 2
        assert len(_digests(cloud, MARIA)) == 1
        assert cloud.errors == []


def test_tasks_in_the_digest_are_completed_through_their_signed_link() -> None:
    with sales_cloud(team=TEAM) as cloud:
        state = DynamoState(cloud.client("dynamodb"), cloud.resolver.refs["StateTable"])
        state.add_task(
            Task(
                task_id="t1",
                assignee=ANNA,
                title="Call the Engines team",
                due="2026-01-06T08:00:00.000Z",
                created_at="2026-01-05T09:00:00.000Z",
            )
        )
        cloud.advance(timedelta(days=1))
        [digest] = _digests(cloud, ANNA)
        assert digest.subject == "Your leads today: 0 active, 1 task due"
        done = re.search(r"\(done: http://localhost:3000(\S+)\)", digest.text)
        assert done
        status, _, page = cloud.http("GET", done.group(1), write_key=None)
        assert status == 200 and "Call the Engines team" in page
        assert state.tasks_for(ANNA)[0].status == "open"  # a GET changes nothing
        status, _, page = cloud.http("POST", done.group(1), b"", write_key=None)
        assert status == 200 and "Done: Call the Engines team" in page
        assert state.tasks_for(ANNA)[0].status == "done"
        # the admin API (IAM-authorised: SigV4-signed requests only) lists them too
        assert cloud.http("GET", f"/admin/tasks/{ANNA}", write_key=None)[0] == 403
        status, listed = admin(cloud, "GET", f"/admin/tasks/{ANNA}")
        assert status == 200 and listed["tasks"][0]["status"] == "done"
        # a task link does not work for another assignee's task
        tampered = done.group(1)[:-3] + ("abc" if not done.group(1).endswith("abc") else "xyz")
        assert cloud.http("POST", tampered, b"", write_key=None)[0] == 403
