"""A retried stream batch counts nothing twice: replaying every stored activity to the react
function (as Lambda does after a failure) assigns, notifies, marks, pushes and moves the
round robin once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sales_helpers import contact_by_email, emails_to, named, sales_cloud, warm_up

from localcloud import LocalCloud

pytestmark = pytest.mark.integration


def _stream_event(cloud: LocalCloud, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The ActivitiesTable stream records for these items, as Lambda delivers them."""
    arn = cloud.functions["ReactFunction"].events["Activity"]["Properties"]["Stream"]
    return {
        "Records": [
            {
                "eventID": f"retry-{n}",
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "Keys": {"pk": item["pk"], "sk": item["sk"]},
                    "NewImage": item,
                    "SequenceNumber": str(1000 + n),
                    "SizeBytes": 100,
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": arn,
            }
            for n, item in enumerate(items)
        ]
    }


def _scan(cloud: LocalCloud, table: str) -> list[dict[str, Any]]:
    ddb = cloud.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": cloud.resolver.refs[table]}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _sales_state(cloud: LocalCloud) -> dict[str, Any]:
    """The sales desk's items, without the version tokens a rewrite would change."""
    keep = ("LEAD#", "RR#", "RRPICK#", "SALESACT#", "CRMPUSH#", "CRMPENDING")
    out = {}
    for item in _scan(cloud, "StateTable"):
        if item["pk"]["S"].startswith(keep):
            out[(item["pk"]["S"], item["sk"]["S"])] = {
                k: v for k, v in item.items() if k not in ("version", "expires_at")
            }
    return out


def test_a_retried_batch_counts_nothing_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    with sales_cloud() as cloud:
        # Two leads in the round robin (FI -> nordics), a CRM that is down (push queued).
        team = cloud.read("sales/team.yaml") or ""
        cloud.upload("sales/team.yaml", team.replace('url: ""', "url: https://127.0.0.1:9/x"))
        monkeypatch.setenv("WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
        warm_up(cloud, "u-ada", "ada@engines.example")
        warm_up(cloud, "u-eve", "eve@engines.example", first_name="Eve")
        ada = contact_by_email(cloud, "ada@engines.example")
        eve = contact_by_email(cloud, "eve@engines.example")
        assert {ada.fields["owner"], eve.fields["owner"]} == {
            "anna@sales.example.com",
            "erik@sales.example.com",
        }
        before_items = _scan(cloud, "ActivitiesTable")
        before_state = _sales_state(cloud)
        before_outbox = len(cloud.outbox)
        assert any(k[0] == "CRMPENDING" for k in before_state)

        for _ in range(2):  # the whole history, twice, in one batch each time
            answer = cloud.invoke("ReactFunction", _stream_event(cloud, before_items))
            assert answer == {"batchItemFailures": []}
            cloud.run_until_idle()

        assert len(cloud.outbox) == before_outbox
        after = {
            (i["pk"]["S"], i["sk"]["S"]): json.loads(i["doc"]["S"])["name"]
            for i in _scan(cloud, "ActivitiesTable")
        }
        seen = {(i["pk"]["S"], i["sk"]["S"]) for i in before_items}
        new = [name for key, name in after.items() if key not in seen]
        # identity (a replayed identify that created its contact is not a claim on it),
        # scoring, the hand-off and the CRM push record nothing again
        assert new == []
        assert _sales_state(cloud) == before_state
        for person in (ada, eve):
            fresh = contact_by_email(cloud, person.email or "")
            assert fresh.fields["owner"] == person.fields["owner"]
            assert fresh.score == person.score == 55
            assert len(named(cloud, fresh, "lead.assigned")) == 1
            assert len(named(cloud, fresh, "sales.notified")) == 1
        assert len(emails_to(cloud, "anna@sales.example.com")) == 1
        assert len(emails_to(cloud, "erik@sales.example.com")) == 1
