"""Every call each function makes to DynamoDB, S3, Step Functions and SES is one its IAM
policy in template.yaml allows, on the resource (and under the conditions) it allows it on.

moto and the local cloud do not enforce a function's policy, so a call its policy forgets
(a BatchGetItem where only Query was granted, a PartiQL INSERT without `PartiQLInsert`)
passes every other test and fails in AWS. Here a journey runs on the local cloud - a sign-up
confirmed from its email, batches, single events and forms (each sent twice: the duplicate
paths too), the welcome program's sends, a click, four days of schedules, the admin API's
reads and a contact import, and the program's deploy first - and every call is recorded with the
function whose handler made it, then checked against that function's policies as IAM reads
them: the operation's action (a transaction needs each item's own action, a PartiQL statement
`PartiQL<Verb>`, a listing `s3:ListBucket`, an email its identity and configuration set), on
the resource's ARN, with the request's condition keys (a listing's `s3:prefix`). SAM's policy templates are expanded as
SAM expands them (samtranslator's policy_templates.json, for the two the template uses)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.constants import ACCOUNT, REGION
from tests.integration.admin_helpers import admin, admin_routes
from tests.integration.sales_helpers import button, emails_to, sales_cloud, warm_up
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
ARN_PARTS = (REGION, ACCOUNT)
ANNA = "anna@sales.example.com"  # the sales team's owner of a Finnish lead (sales/team.yaml)
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


@dataclass(frozen=True, order=True)
class Need:
    """One permission a call needs: an action on a resource ARN, with the condition keys
    the request carries (e.g. `s3:prefix` of a listing)."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


def needs(
    service: str, operation: str, params: dict[str, Any], tables: dict[str, str]
) -> list[Need]:
    """What a call needs, as IAM authorises it. `tables`: table name -> ARN."""
    if service == "dynamodb":
        return [Need(action, tables[table] + (f"/index/{index}" if index else ""))
                for action, table, index in _dynamodb(operation, params)]  # fmt: skip
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        if operation in ("ListObjectsV2", "ListObjects"):
            return [Need("s3:ListBucket", bucket, (("s3:prefix", params.get("Prefix", "")),))]
        action = {"HeadObject": "GetObject"}.get(operation, operation)
        return [Need(f"s3:{action}", f"{bucket}/{params['Key']}")]
    if service == "stepfunctions":
        return [Need(f"states:{operation}", _state_machine_resource(operation, params))]
    if service == "sesv2" and operation == "SendEmail":
        region, account = ARN_PARTS
        domain = params["FromEmailAddress"].rsplit("@", 1)[-1].rstrip(">")
        found = [Need("ses:SendEmail", f"arn:aws:ses:{region}:{account}:identity/{domain}")]
        if params.get("ConfigurationSetName"):
            name = params["ConfigurationSetName"]
            found.append(
                Need("ses:SendEmail", f"arn:aws:ses:{region}:{account}:configuration-set/{name}")
            )
        return found
    return []  # other services: not checked here


def _state_machine_resource(operation: str, params: dict[str, Any]) -> str:
    """The ARN Step Functions authorises an operation on (its docs' resource types)."""
    region, account = ARN_PARTS
    if operation == "CreateStateMachine":
        return f"arn:aws:states:{region}:{account}:stateMachine:{params['name']}"
    if operation == "CreateStateMachineAlias":  # the alias: its machine's ARN, then its name
        version = params["routingConfiguration"][0]["stateMachineVersionArn"]
        return f"{version.rsplit(':', 1)[0]}:{params['name']}"
    for name in ("stateMachineAliasArn", "stateMachineArn", "executionArn"):
        if params.get(name):
            return str(params[name])
    return "*"  # task tokens, validation: no resource


def _dynamodb(operation: str, params: dict[str, Any]) -> list[tuple[str, str, str | None]]:
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


@dataclass(frozen=True)
class Allow:
    actions: list[str]
    resources: list[str]
    condition: dict[str, Any]

    def grants(self, need: Need) -> bool:
        return (
            any(fnmatchcase(need.action, a) for a in self.actions)
            and any(fnmatchcase(need.resource, r) for r in self.resources)
            and self._holds(dict(need.context))
        )

    def _holds(self, context: dict[str, str]) -> bool:
        for operator, tests in self.condition.items():
            for key, wanted in tests.items():
                if key not in context:
                    return key.startswith("kms:")  # KMS' own keys: not this call's to carry
                values = wanted if isinstance(wanted, list) else [wanted]
                if operator == "StringLike":
                    ok = any(fnmatchcase(context[key], v) for v in values)
                elif operator == "StringEquals":
                    ok = context[key] in values
                else:
                    raise AssertionError(f"condition operator {operator} is not read here")
                if not ok:
                    return False
        return True


def statements_of(cloud: LocalCloud, function: dict[str, Any]) -> list[Allow]:
    """Each Allow statement of a function's policies, resources resolved to ARNs."""
    found = []
    for policy in function["Properties"].get("Policies", []):
        if not isinstance(policy, dict):
            continue
        for template, actions in SAM_TABLE_POLICIES.items():
            if template in policy:
                table = cloud.resolver.resolve(policy[template]["TableName"])
                arn = cloud.resolver.resolve(
                    {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + table}
                )  # fmt: skip
                found.append(Allow(actions, [arn, f"{arn}/index/*"], {}))
        for statement in policy.get("Statement", []):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"]
            resources = cloud.resolver.resolve(statement["Resource"])
            found.append(
                Allow(
                    [actions] if isinstance(actions, str) else actions,
                    resources if isinstance(resources, list) else [resources],
                    cloud.resolver.resolve(statement.get("Condition") or {}),
                )
            )
    return found


@contextmanager
def recorded(cloud: LocalCloud) -> Iterator[set[tuple[str, Need]]]:
    """(function, what its call needs) of every call a function makes in the block."""
    tables = {
        str(cloud.resolver.refs[logical]): str(cloud.resolver.attrs[(logical, "Arn")])
        for logical, res in cloud.template["Resources"].items()
        if res["Type"] == "AWS::DynamoDB::Table"
    }
    calls: set[tuple[str, Need]] = set()

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        function = calling_function()
        if function is not None:
            service = model.service_model.service_name
            calls.update((function, need) for need in needs(service, model.name, params, tables))

    cloud._session.events.register("provide-client-params", record)
    try:
        yield calls
    finally:
        cloud._session.events.unregister("provide-client-params", record)


def refused(cloud: LocalCloud, calls: set[tuple[str, Need]]) -> list[tuple[str, Need]]:
    functions = {
        str(res["Properties"]["CodeUri"]).rstrip("/").rsplit("/", 1)[-1]: res
        for res in cloud.template["Resources"].values()
        if res["Type"] == "AWS::Serverless::Function" and "CodeUri" in res["Properties"]
    }
    return sorted(
        (function, need)
        for function, need in calls
        if not any(allow.grants(need) for allow in statements_of(cloud, functions[function]))
    )


def test_every_call_of_the_marketing_journey_is_allowed_by_the_caller_s_policy(
    cloud: LocalCloud,
) -> None:
    with recorded(cloud) as calls:
        cloud.sync_content(only=["welcome"])  # the deploy function, from the content bucket
        status = json.loads(cloud.read("programs/welcome.status.json") or "{}")
        assert status.get("status") == "live", status
        sign_up(cloud, {"email": "ada@example.com", "consent_newsletter": "on"})
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
            status, _, answer = cloud.http("POST", path, body)
            assert status in (200, 202), (path, answer)
        cloud.run_until_idle()
        [welcome_1] = marketing(cloud)
        cloud.click_email(welcome_1)
        cloud.advance(timedelta(days=4))
        for method, path, _ in admin_routes():
            if method == "GET" and "{" not in path:
                admin(cloud, method, path)
        # a contact import (the admin function runs it, in parts, invoking itself)
        people = "email,first,news\ncy@example.com,Cy,yes\ndi@example.com,Di,no\n"
        cloud.upload("imports/people.csv", people)  # two rows: activities in bulk
        mapping = {
            "columns": {"email": "email", "first": "first_name"},
            "consent": [{"column": "news", "channel": "email", "wording": "Send me news"}],
            "consent_at": "2025-01-01",
        }
        status, answer = admin(
            cloud, "POST", "/admin/imports", {"key": "imports/people.csv", "mapping": mapping}
        )
        assert status == 202, answer
        cloud.run_until_idle()
        status, answer = admin(cloud, "GET", f"/admin/imports/{answer['import_id']}")
        assert (status, answer["status"], answer["totals"]["created"]) == (200, "done", 2), answer
    services = {need.action.split(":")[0] for _, need in calls}
    assert {"dynamodb", "s3", "states", "ses"} <= services  # the journey ran
    callers = {function for function, _ in calls}
    assert {"deploy", "ingest", "react", "steps", "engagement", "lake", "admin"} <= callers
    assert refused(cloud, calls) == [], "\n".join(map(str, refused(cloud, calls)))


def test_every_call_of_the_sales_journey_is_allowed_by_the_caller_s_policy() -> None:
    with sales_cloud() as cloud, recorded(cloud) as calls:
        warm_up(cloud, "u-ada", "ada@engines.example")  # an MQL: the owner is notified
        [mail] = emails_to(cloud, ANNA)
        cloud.advance(timedelta(minutes=42))
        status, _, _ = cloud.http("POST", button(mail, "Accept"), b"", write_key=None)
        assert status == 200
        cloud.advance(timedelta(days=2))  # the daily digest, the sweep
    callers = {function for function, _ in calls}
    assert {"ingest", "react", "sales"} <= callers  # the journey ran
    assert refused(cloud, calls) == [], "\n".join(map(str, refused(cloud, calls)))
