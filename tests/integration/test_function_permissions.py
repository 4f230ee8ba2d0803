"""Every DynamoDB call each function makes is one its IAM policy in template.yaml allows, on
the table (or index) it allows it on.

moto and the local cloud do not enforce a function's policy, so a call its policy forgets
(a BatchGetItem where only Query was granted, a PartiQL INSERT without `PartiQLInsert`)
passes every other test and fails in AWS. Here a journey runs on the local cloud - a sign-up
confirmed from its email, batches, single events and forms (each sent twice: the duplicate
paths too), the welcome program's sends, a click, four days of schedules, the admin API's
reads - and every DynamoDB call is recorded with the
function whose handler made it, then checked against that function's policies as IAM reads
them: the operation's action (a transaction needs each item's own action, a PartiQL statement
`PartiQL<Verb>`), on the table's or the index's ARN. SAM's policy templates are expanded as
SAM expands them (samtranslator's policy_templates.json, for the two the template uses)."""

from __future__ import annotations

import sys
from datetime import timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from localcloud import LocalCloud
from tests.integration.admin_helpers import admin, admin_routes
from tests.integration.signup import marketing, sign_up

pytestmark = pytest.mark.integration

# SAM's policy templates the template uses (samtranslator 1.115.0,
# policy_templates_data/policy_templates.json): actions, on table/<name> and table/<name>/index/*.
SAM_TABLE_POLICIES = {
    "DynamoDBCrudPolicy": [
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
        "dynamodb:ConditionCheckItem",
    ],
    "DynamoDBReadPolicy": [
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
    ],
}
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def calling_function() -> str | None:
    """The folder under functions/ of the handler code making the call (the innermost one:
    react and the lake run in this process too)."""
    frame = sys._getframe(1)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.name == "app.py" and path.parent.parent.name == "functions":
            return path.parent.name
        frame = frame.f_back  # type: ignore[assignment]
    return None


def needs(operation: str, params: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(IAM action, table name, index name) of each permission a DynamoDB call needs."""
    if operation in ("BatchExecuteStatement", "ExecuteStatement", "ExecuteTransaction"):
        statements = params.get("Statements") or params.get("TransactStatements") or [params]
        found = []
        for statement in statements:
            verb, _, rest = statement["Statement"].strip().partition(" ")
            table = rest.split('"')[1]  # the adapters quote table names
            found.append((f"dynamodb:PartiQL{verb.capitalize()}", table, None))
        return found
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [
            (f"dynamodb:{_TRANSACT_ACTIONS[kind]}", body["TableName"], None)
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", table, None) for table in params["RequestItems"]]
    return [(f"dynamodb:{operation}", params["TableName"], params.get("IndexName"))]


def statements_of(cloud: LocalCloud, function: dict[str, Any]) -> list[tuple[list[str], list[str]]]:
    """(actions, resource ARN patterns) of each Allow statement of a function's policies."""
    found = []
    for policy in function["Properties"].get("Policies", []):
        if not isinstance(policy, dict):
            continue
        for template, actions in SAM_TABLE_POLICIES.items():
            if template in policy:
                table = cloud.resolver.resolve(policy[template]["TableName"])
                arn = cloud.resolver.resolve(
                    {
                        "Fn::Sub": f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}"
                    }
                )
                found.append((actions, [arn, f"{arn}/index/*"]))
        for statement in policy.get("Statement", []):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"]
            resources = cloud.resolver.resolve(statement["Resource"])
            found.append(
                (
                    [actions] if isinstance(actions, str) else actions,
                    resources if isinstance(resources, list) else [resources],
                )
            )
    return found


def allowed(statements: list[tuple[list[str], list[str]]], action: str, arn: str) -> bool:
    return any(
        any(fnmatchcase(action, a) for a in actions) and any(fnmatchcase(arn, r) for r in resources)
        for actions, resources in statements
    )


def test_every_dynamodb_call_of_every_function_is_allowed_by_its_policy(
    live: LocalCloud,
) -> None:
    calls: set[tuple[str, str, str, str | None]] = set()

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        function = calling_function()
        if function is not None:
            calls.update((function, *need) for need in needs(model.name, params))

    live._session.events.register("provide-client-params.dynamodb", record)
    try:
        sign_up(live, {"email": "ada@example.com", "consent_newsletter": "on"})
        batch = {
            "batch": [
                {"type": "page", "anonymousId": "v-1", "name": "Pricing", "messageId": "p-1"},
                {"type": "identify", "anonymousId": "v-1", "messageId": "i-1",
                 "traits": {"email": "ada@example.com"}},
            ]
        }  # fmt: skip
        track = {"anonymousId": "v-1", "event": "Demo Booked", "messageId": "t-1"}
        form = {"email": "bob@example.com", "messageId": "f-1"}
        for path, body in (
            ("/v1/batch", batch),
            ("/v1/batch", batch),  # every event a duplicate
            ("/v1/track", track),
            ("/v1/track", track),
            ("/v1/forms/newsletter-signup", form),
            ("/v1/forms/newsletter-signup", form),
        ):
            status, _, answer = live.http("POST", path, body)
            assert status in (200, 202), (path, answer)
        live.run_until_idle()
        [welcome_1] = marketing(live)
        live.click_email(welcome_1)
        live.advance(timedelta(days=4))
        for method, path, _ in admin_routes():
            if method == "GET" and "{" not in path:
                admin(live, method, path)
    finally:
        live._session.events.unregister("provide-client-params.dynamodb", record)

    functions = {
        str(res["Properties"]["CodeUri"]).rstrip("/").rsplit("/", 1)[-1]: res
        for res in live.template["Resources"].values()
        if res["Type"] == "AWS::Serverless::Function" and "CodeUri" in res["Properties"]
    }
    tables = {
        str(live.resolver.refs[logical]): str(live.resolver.attrs[(logical, "Arn")])
        for logical, res in live.template["Resources"].items()
        if res["Type"] == "AWS::DynamoDB::Table"
    }
    refused = []
    for function, action, table, index in sorted(calls, key=str):
        arn = tables[table] + (f"/index/{index}" if index else "")
        if not allowed(statements_of(live, functions[function]), action, arn):
            refused.append((function, action, table, index))
    callers = {function for function, *_ in calls}
    assert {"ingest", "react", "steps", "engagement", "admin"} <= callers  # the journey ran
    assert refused == []
