"""`nurture explain CONTACT`: why a contact has its score and grade, newest reason first.

    nurture explain ann@example.com                  # the local cloud of `make demo`
    nurture explain ann@example.com --local http://localhost:8080
    nurture explain ann@example.com --stack nurture --region eu-west-1   # a deployed stack
    nurture explain 3f2c... --at 2026-03-01T09:00:00Z --json

CONTACT is an email address or a contact id. The score is computed for the moment asked
(now by default) from what is stored on the contact: exact, decay included.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("contact", help="an email address or a contact id")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        default="http://localhost:3000",
        metavar="URL",
        help="the local cloud's API (`make demo`), default http://localhost:3000",
    )
    where.add_argument("--stack", help="a deployed stack's name: read its ContactsTable on AWS")
    parser.add_argument("--region", help="the stack's AWS region (default: your AWS config)")
    parser.add_argument("--at", help="the moment to explain (ISO 8601, default now)")
    parser.add_argument("--model", help="a scoring model id (default: the primary one)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def explain_with(
    contacts: Any, ref: str, at: datetime | None, model: str | None = None
) -> tuple[int, dict[str, Any]]:
    """(HTTP-like status, the explanation with its printable lines) for a contact store."""
    from nurture import clock
    from nurture.scoring import explain_contact

    contact_id = contacts.contact_for_actor(f"email:{ref.strip().lower()}") if "@" in ref else ref
    contact = contacts.get(contact_id) if contact_id else None
    if contact is None:
        return 404, {"error": f"no contact {ref!r}"}
    if model is not None and model not in contact.scoring:
        return 404, {"error": f"model {model!r} has not scored {ref!r}"}
    explained = explain_contact(contact, at or clock.now(), model)
    answer = {**explained.as_dict(), "email": contact.email, "lines": explained.lines()}
    predictive = predictive_of(contact)
    if predictive is not None:
        answer["predictive"] = predictive
        answer["lines"] = [*answer["lines"], *predictive_lines(predictive)]
    return 200, answer


def predictive_of(contact: Any) -> dict[str, Any] | None:
    """The predictive score on the contact (nurture.predictive.scores), if scored."""
    if getattr(contact, "predictive_score", None) is None:
        return None
    return {
        "score": contact.predictive_score,
        "model_version": contact.predictive_model,
        "factors": list(contact.predictive_factors),
    }


def predictive_lines(predictive: dict[str, Any]) -> list[str]:
    from nurture.predictive.model import factor_line

    head = f"Predictive score {predictive['score']}/100 (model v{predictive['model_version']}):"
    return [head, *(f"  {factor_line(f)}" for f in predictive["factors"])]


def explain_local(cloud: Any, ref: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """The local cloud's `/_local/explain/<contact>` answer (virtual time is `now`)."""
    from nurture.adapters.dynamodb import DynamoContacts

    contacts = DynamoContacts(cloud.client("dynamodb"), cloud.resolver.refs["ContactsTable"])
    try:
        at = _moment(query.get("at"))
    except ValueError:
        return 400, {"error": "at: not an ISO 8601 moment"}
    return explain_with(contacts, ref, at, query.get("model"))


def _from_local(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    query = {k: v for k, v in (("at", args.at), ("model", args.model)) if v}
    url = f"{args.local.rstrip('/')}/_local/explain/{urllib.parse.quote(args.contact)}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - a URL we build
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _from_stack(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from nurture.adapters.dynamodb import DynamoContacts

    session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
    try:
        table = session.client("cloudformation").describe_stack_resource(
            StackName=args.stack, LogicalResourceId="ContactsTable"
        )["StackResourceDetail"]["PhysicalResourceId"]
        contacts = DynamoContacts(session.client("dynamodb"), table)
        return explain_with(contacts, args.contact, _moment(args.at), args.model)
    except (BotoCoreError, ClientError) as exc:
        return 502, {"error": f"stack {args.stack!r}: {exc}"}


def run(args: argparse.Namespace) -> int:
    try:
        status, answer = _from_stack(args) if args.stack else _from_local(args)
    except (OSError, ValueError) as exc:
        where = args.stack or args.local
        print(f"nurture explain: cannot reach {where}: {exc}", file=sys.stderr)
        return 2
    if status != 200:
        print(f"nurture explain: {answer.get('error', status)}", file=sys.stderr)
        return 1
    if args.json:
        json.dump({k: v for k, v in answer.items() if k != "lines"}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join(answer["lines"]) + "\n")
    return 0
