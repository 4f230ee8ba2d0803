"""Shared fixtures: a fresh embedded local cloud per integration test, a view of its tables,
and an in-memory activity store for unit tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from localcloud import LocalCloud, audit
from localcloud.fakes import InMemoryActivities
from nurture.accounts import Account
from nurture.adapters.dynamodb import DynamoActivities
from nurture.contacts import Contact
from nurture.tracking.events import Activity

# --- integration: the local cloud ---------------------------------------------------------


@pytest.fixture(autouse=True)
def local_cloud_audit(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every local cloud a test starts is audited when the test ends: each stream record a
    function subscribes to (every stored activity, for the react function) was delivered,
    and no function failed. A test that makes functions fail on purpose says so with
    `@pytest.mark.expect_function_errors` (the delivery check still applies)."""
    watch = audit.watch()
    try:
        yield
        problems = []
        expect_errors = request.node.get_closest_marker("expect_function_errors") is not None
        for findings in watch.results():
            problems += [f"never delivered: {r}" for r in findings.undelivered]
            if not expect_errors:
                problems += [f"function failed: {e}" for e in findings.errors]
        assert not problems, "the local cloud reports:\n  " + "\n  ".join(problems[:20])
    finally:
        audit.unwatch()


@pytest.fixture
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    """A fresh local cloud (template.yaml on moto, virtual clock at its default start).

    Nothing is uploaded: tests that need forms, templates or programs say so with
    `cloud.sync_content()` or use the `live` fixture. Function schedules more frequent than
    daily are off unless the test is marked `frequent_schedules`, so years of program time
    stay quick."""
    frequent = request.node.get_closest_marker("frequent_schedules") is not None
    started = LocalCloud(frequent_schedules=frequent).start()
    try:
        yield started
    finally:
        started.__exit__()


@pytest.fixture
def live(cloud: LocalCloud) -> LocalCloud:
    """The cloud with the repository's forms and templates, and the welcome program, deployed.

    Only that program: others (which may also start on a sign-up) have their own tests."""
    cloud.sync_content(only=["welcome"])
    status = json.loads(cloud.read("programs/welcome.status.json") or "{}")
    assert status.get("status") == "live", f"welcome program did not deploy: {status}"
    assert cloud.errors == []
    return cloud


@dataclass
class Tables:
    """Reads what the system stored, straight from DynamoDB on moto."""

    cloud: LocalCloud

    def _table(self, logical_id: str) -> str:
        return str(self.cloud.resolver.refs[logical_id])

    def _scan(self, logical_id: str) -> list[dict[str, Any]]:
        ddb = self.cloud.client("dynamodb")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self._table(logical_id)}
        while True:
            page = ddb.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @property
    def store(self) -> DynamoActivities:
        return DynamoActivities(
            self.cloud.client("dynamodb"),
            self._table("ActivitiesTable"),
            self._table("StateTable"),
        )

    def activity_items(self) -> list[dict[str, Any]]:
        return self._scan("ActivitiesTable")

    def activities(self, actor: str | None = None) -> list[Activity]:
        """Every stored activity (oldest first), or those of one actor key."""
        found = [Activity.model_validate_json(i["doc"]["S"]) for i in self.activity_items()]
        if actor is not None:
            found = [a for a in found if a.actor == actor]
        return sorted(found, key=lambda a: a.sort_key)

    def visitor_activities(self) -> list[Activity]:
        """What visitors sent in (tracking and forms), without what the system recorded."""
        return [a for a in self.activities() if a.kind in ("track", "identify", "page", "form")]

    def contacts(self) -> list[Contact]:
        return [
            Contact.model_validate_json(i["doc"]["S"])
            for i in self._scan("ContactsTable")
            if i["sk"]["S"] == "PROFILE" and i["pk"]["S"].startswith("CONTACT#")
        ]

    def accounts(self) -> list[Account]:
        return [
            Account.model_validate_json(i["doc"]["S"])
            for i in self._scan("ContactsTable")
            if i["pk"]["S"].startswith("ACCOUNT#")
        ]

    def contact_items(self) -> list[dict[str, Any]]:
        return self._scan("ContactsTable")

    def contact_by_email(self, email: str) -> Contact:
        matches = [c for c in self.contacts() if c.email == email]
        assert len(matches) == 1, f"expected one contact for {email}, found {len(matches)}"
        return matches[0]

    def contact_for_actor(self, actor: str) -> str | None:
        item = (
            self.cloud.client("dynamodb")
            .get_item(
                TableName=self._table("ContactsTable"),
                Key={"pk": {"S": f"ACTOR#{actor}"}, "sk": {"S": "CONTACT"}},
            )
            .get("Item")
        )
        return item["contact_id"]["S"] if item else None

    def activities_of(self, contact: Contact) -> list[Activity]:
        """Everything stored under any of the contact's actor keys, newest first."""
        return self.store.list_for([*contact.actors, f"contact:{contact.contact_id}"])

    def executions(self, program_id: str) -> list[dict[str, Any]]:
        """The Step Functions executions of a program's state machine."""
        sfn = self.cloud.client("stepfunctions")
        name = f"{self.cloud.stack}-program-{program_id}"
        machines = sfn.list_state_machines()["stateMachines"]
        arns = [m["stateMachineArn"] for m in machines if m["name"] == name]
        assert arns, f"no state machine {name}"
        return list(sfn.list_executions(stateMachineArn=arns[0])["executions"])


@pytest.fixture
def tables(cloud: LocalCloud) -> Tables:
    return Tables(cloud)


# --- unit: an in-memory activity store ------------------------------------------------------


@pytest.fixture
def memory_store() -> InMemoryActivities:
    return InMemoryActivities()
