"""Every call each function makes to AWS is one its IAM policy in template.yaml allows, on the
resource (and under the conditions) it allows it on, and no Deny of it takes it back.

moto and the local cloud do not enforce a function's policy, so a call its policy forgets
(a BatchGetItem where only Query was granted, a PartiQL INSERT without `PartiQLInsert`)
passes every other test and fails in AWS. Here a journey runs on the local cloud - a sign-up
confirmed from its email, batches, single events and forms (each sent twice: the duplicate
paths too), the welcome program's sends, a click, four days of schedules, the admin API's
reads and a contact import, and the program's deploy first; texts and a STOP reply, an
unsubscribe, birthdays found by the sweep and a wait long enough to resume by schedule; a
sales hand-off - and every call is recorded with the function whose handler made it (any
client, Parameter Store's through powertools too), then checked against that function's
policies as IAM reads them: the operation's action (a transaction needs each item's own
action, a PartiQL statement `PartiQL<Verb>`, a listing `s3:ListBucket`, an email its identity
and configuration set, a schedule `iam:PassRole` of its target's role), on the resource's ARN,
with the request's condition keys (a listing's `s3:prefix`). SAM's policy templates are
expanded as SAM expands them (samtranslator's policy_templates.json, for the two the template
uses). A call to a service this file does not model fails the test: it cannot pass unread."""

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

import botocore.client
import pytest
from care import Person

from localcloud import LocalCloud
from localcloud.constants import ACCOUNT, REGION
from tests.integration.admin_helpers import admin, admin_routes
from tests.integration.delivery_helpers import path_of, program, send, setup
from tests.integration.delivery_helpers import sign_up as sign_up_with_form
from tests.integration.sales_helpers import button, emails_to, sales_cloud, warm_up
from tests.integration.signup import marketing, sign_up
from tests.integration.test_sweep_index import BIRTHDAY  # found by the sweep

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
CLOUDFORMATION_SUFFIX = "1A2B3C4D5E6F"  # the random end of a name CloudFormation makes
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
    region, account = ARN_PARTS
    if service == "ssm" and operation == "GetParameter":
        return [
            Need("ssm:GetParameter", f"arn:aws:ssm:{region}:{account}:parameter{params['Name']}")
        ]
    if service == "sns" and operation == "Publish":
        # A text to a phone number has no resource: IAM authorises it on "*".
        return [Need("sns:Publish", params.get("TopicArn") or params.get("TargetArn") or "*")]
    if service == "scheduler":
        return _schedule(operation, params)
    if service == "lambda" and operation in ("Invoke", "InvokeAsync"):
        name = params["FunctionName"].split(":function:")[-1].split(":")[0]  # no qualifier
        # No function in the template is given a name, so CloudFormation names each
        # `<stack>-<logical id>-<random suffix>`; the local cloud leaves the suffix off.
        deployed = f"{name}-{CLOUDFORMATION_SUFFIX}"
        return [
            Need("lambda:InvokeFunction", f"arn:aws:lambda:{region}:{account}:function:{deployed}")
        ]
    if service == "sqs" and operation == "SendMessage":
        queue = params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
        return [Need("sqs:SendMessage", f"arn:aws:sqs:{region}:{account}:{queue}")]
    if service == "sesv2" and operation == "SendEmail":
        domain = params["FromEmailAddress"].rsplit("@", 1)[-1].rstrip(">")
        found = [Need("ses:SendEmail", f"arn:aws:ses:{region}:{account}:identity/{domain}")]
        if params.get("ConfigurationSetName"):
            name = params["ConfigurationSetName"]
            found.append(
                Need("ses:SendEmail", f"arn:aws:ses:{region}:{account}:configuration-set/{name}")
            )
        return found
    raise Unmodelled(f"{service}.{operation}")


class Unmodelled(AssertionError):
    """A call this file does not know how IAM authorises: model it in `needs`."""


def _schedule(operation: str, params: dict[str, Any]) -> list[Need]:
    """EventBridge Scheduler: a schedule's ARN (in its group); creating one passes its
    target's role, which needs `iam:PassRole` on that role."""
    region, account = ARN_PARTS
    if operation == "ListSchedules":
        return [Need("scheduler:ListSchedules", "*")]
    group = params.get("GroupName") or "default"
    arn = f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{params['Name']}"
    found = [Need(f"scheduler:{operation}", arn)]
    if operation in ("CreateSchedule", "UpdateSchedule"):
        found.append(Need("iam:PassRole", params["Target"]["RoleArn"]))
    return found


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
    """One statement of a policy (an Allow, or a Deny with `deny`)."""

    actions: list[str]
    resources: list[str]
    condition: dict[str, Any]
    deny: bool = False

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
    """Each Allow and Deny statement of a function's policies, resources resolved to ARNs."""
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
            actions = statement["Action"]
            resources = cloud.resolver.resolve(statement["Resource"])
            found.append(
                Allow(
                    [actions] if isinstance(actions, str) else actions,
                    resources if isinstance(resources, list) else [resources],
                    cloud.resolver.resolve(statement.get("Condition") or {}),
                    deny=statement["Effect"] == "Deny",
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
    # Every botocore client's calls, not only the cloud session's: powertools' Parameters
    # reads Parameter Store through a session of its own.
    make_api_call = botocore.client.BaseClient._make_api_call

    def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
        function = calling_function()
        if function is not None:
            service = client._service_model.service_name
            calls.update((function, need) for need in needs(service, operation, params, tables))
        return make_api_call(client, operation, params)

    botocore.client.BaseClient._make_api_call = record  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]


def refused(cloud: LocalCloud, calls: set[tuple[str, Need]]) -> list[tuple[str, Need]]:
    functions = {
        str(res["Properties"]["CodeUri"]).rstrip("/").rsplit("/", 1)[-1]: res
        for res in cloud.template["Resources"].values()
        if res["Type"] == "AWS::Serverless::Function" and "CodeUri" in res["Properties"]
    }
    found = []
    for function, need in calls:
        statements = statements_of(cloud, functions[function])
        allowed = any(s.grants(need) for s in statements if not s.deny)
        if not allowed or any(s.grants(need) for s in statements if s.deny):
            found.append((function, need))
    return sorted(found)


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


TEXTS = """\
  - id: text-1
    type: send_sms
    text: "Hi {{ contact.first_name }}, 20% off today"
    topic: offers
  - id: text-2
    type: send_sms
    text: "Last day, {{ contact.first_name }}"
    topic: offers
"""
# Longer than checks.LONG_WAIT_SECONDS: the run resumes by a one-time schedule.
SLOW = "  - {id: pause, type: wait, duration: 100 days}\n" + send("later", "t-a")


def test_every_call_of_texts_replies_unsubscribes_and_sweeps_is_allowed(
    cloud: LocalCloud,
) -> None:
    with recorded(cloud) as calls:
        setup(cloud, {"sale": program("sale", TEXTS), "slow": program("slow", SLOW)})
        cloud.upload("programs/cake.yaml", BIRTHDAY)
        sign_up_with_form(cloud, phone="+358 40 123 4567", texts="on", news="on")
        assert [sms.to for sms in cloud.sms_outbox] == ["+358401234567"] * 2  # steps, SNS
        cloud.sms_reply("+358401234567", "Stop")  # sms-inbound
        tomorrow = (cloud.clock.now() + timedelta(days=1)).date().replace(year=1990)
        Person(cloud, "bea@example.com").identify(birthday=tomorrow.isoformat())
        cloud.advance(timedelta(days=101))  # the sweep's days; the schedule's resume
        [later] = cloud.outbox
        unsubscribe = path_of(later.headers["List-Unsubscribe"].strip("<>"))
        status, _, _ = cloud.http(
            "POST", unsubscribe, "List-Unsubscribe=One-Click", write_key=None,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert status == 200  # preferences
        assert cloud.errors == []
    actions = {need.action for _, need in calls}
    assert {
        "ssm:GetParameter",
        "sns:Publish",
        "scheduler:CreateSchedule",
        "iam:PassRole",
    } <= actions
    callers = {function for function, _ in calls}
    assert {"sms_inbound", "sweep", "preferences", "steps", "ingest", "react"} <= callers
    assert refused(cloud, calls) == [], "\n".join(map(str, refused(cloud, calls)))
