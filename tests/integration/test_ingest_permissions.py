"""Every DynamoDB call the ingest function makes is one its IAM policy in template.yaml
allows, on the table it allows it on.

moto and the local cloud do not enforce a function's policy, so a call the policy forgets (a
PartiQL INSERT needs `dynamodb:PartiQLInsert`, not `BatchWriteItem`) would pass every other
test and fail every request once deployed. The calls are recorded as the function makes them
(botocore's provide-client-params event) through each kind of request it serves: a batch, the same
batch again (duplicates), one event per call, a form post and its duplicate."""

from __future__ import annotations

import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from localcloud import LocalCloud

pytestmark = pytest.mark.integration

EVENT = {"anonymousId": "visitor-1", "event": "Pricing Viewed", "messageId": "m-1"}


def _action(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(IAM action, table name) pairs a call needs: a PartiQL statement is authorised per
    statement kind (PartiQLInsert, PartiQLSelect...), the rest by the operation's name."""
    if operation in ("BatchExecuteStatement", "ExecuteStatement"):
        statements = params.get("Statements") or [params]
        needed = []
        for statement in statements:
            verb, _, rest = statement["Statement"].strip().partition(" ")
            table = rest.split('"')[1]
            needed.append((f"dynamodb:PartiQL{verb.capitalize()}", table))
        return needed
    tables = list(params.get("RequestItems") or []) or [params.get("TableName", "?")]
    return [(f"dynamodb:{operation}", table) for table in tables]


def _calling_function() -> str | None:
    """The function whose handler code is making the call: the innermost frame of a
    `functions/<name>/app.py`."""
    frame = sys._getframe(1)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.name == "app.py" and path.parent.parent.name == "functions":
            return path.parent.name
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _allowed(policies: list[dict[str, Any]], action: str, logical_table: str) -> bool:
    for policy in policies:
        for statement in policy.get("Statement", []):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            if (
                any(fnmatchcase(action, a) for a in actions)
                and {"Fn::GetAtt": [logical_table, "Arn"]} in resources
            ):
                return True
    return False


def test_every_dynamodb_call_of_the_ingest_function_is_allowed_by_its_policy(
    live: LocalCloud,
) -> None:
    calls: list[tuple[str, str]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if _calling_function() == "ingest":  # react and the lake run in this process too
            calls.extend(_action(model.name, params))

    live._session.events.register("provide-client-params.dynamodb", record)
    batch = {"batch": [{**EVENT, "type": "track"}, {**EVENT, "messageId": "m-2", "type": "page"}]}
    for path, body in (
        ("/v1/batch", batch),
        ("/v1/batch", batch),  # every event a duplicate
        ("/v1/track", {**EVENT, "messageId": "m-3"}),
        ("/v1/track", {**EVENT, "messageId": "m-3"}),
        ("/v1/forms/newsletter-signup", {"email": "ada@example.com", "messageId": "f-1"}),
        ("/v1/forms/newsletter-signup", {"email": "ada@example.com", "messageId": "f-1"}),
    ):
        status, _, answer = live.http("POST", path, body)
        assert status in (200, 201, 202), (path, answer)
    live._session.events.unregister("provide-client-params.dynamodb", record)

    names = {str(live.resolver.refs[t]): t for t in ("ActivitiesTable", "StateTable")}
    policies = live.template["Resources"]["IngestFunction"]["Properties"]["Policies"]
    needed = {(action, names.get(table, table)) for action, table in calls}
    assert ("dynamodb:PartiQLInsert", "ActivitiesTable") in needed  # the batch path ran
    refused = sorted(n for n in needed if not _allowed(policies, *n))
    assert refused == []
