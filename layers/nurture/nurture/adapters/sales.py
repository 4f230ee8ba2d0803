"""Adapters of the sales desk: its DynamoDB items (in the state table), the CRM's HTTP
client, and the readers of scores and accounts.

State table items:
    LEAD#<contact>       / HANDOFF            the current hand-off (doc, version)
    RR#<team>            / COUNTER            the round robin's position (n)
    RRPICK#<key>         / PICK               which position a hand-off got (retries reuse it)
    SALESACT#<owner>     / CONTACT#<contact>  active since the owner's last digest
    DIGEST#<owner>       / LAST               when the owner's last digest went out
    CRMPUSH#<delivery>   / PUSH               one CRM delivery (doc, status)
    CRMPENDING           / <next at>#<id>     deliveries waiting for a retry, by due time
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from nurture import clock
from nurture.contacts import Contact
from nurture.ports import Task
from nurture.sales.ports import ActiveContact, CrmDelivery, Handoff

ATTEMPTS = 8
MARKER_DAYS = 60  # a marker no digest picked up (an owner left the team) expires
PICK_DAYS = 35


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _expires(days: int) -> dict[str, str]:
    return {"N": str(int(clock.now().timestamp()) + days * 86400)}


class DynamoSales:
    def __init__(self, client: Any, table: str):
        self._db = client
        self._table = table

    # --- hand-offs ---------------------------------------------------------------------
    @staticmethod
    def _handoff_key(contact_id: str) -> dict[str, Any]:
        return {"pk": _s(f"LEAD#{contact_id}"), "sk": _s("HANDOFF")}

    def _read_handoff(self, contact_id: str) -> tuple[Handoff | None, str | None]:
        item = self._db.get_item(
            TableName=self._table, Key=self._handoff_key(contact_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            return None, None
        return Handoff(**json.loads(item["doc"]["S"])), item["version"]["S"]

    def get_handoff(self, contact_id: str) -> Handoff | None:
        return self._read_handoff(contact_id)[0]

    def update_handoff(
        self, contact_id: str, change: Callable[[Handoff | None], Handoff | None]
    ) -> Handoff | None:
        for _ in range(ATTEMPTS):
            current, version = self._read_handoff(contact_id)
            new = change(current)
            if new is None:
                return current
            condition: dict[str, Any] = (
                {
                    "ConditionExpression": "version = :seen",
                    "ExpressionAttributeValues": {":seen": _s(version)},
                }
                if version
                else {"ConditionExpression": "attribute_not_exists(pk)"}
            )
            try:
                self._db.put_item(
                    TableName=self._table,
                    Item={
                        **self._handoff_key(contact_id),
                        "doc": _s(json.dumps(asdict(new))),
                        "status": _s(new.status),
                        "version": _s(uuid.uuid4().hex),
                    },
                    **condition,
                )
                return new
            except self._db.exceptions.ConditionalCheckFailedException:
                continue  # written meanwhile: decide again on what is there now
        raise RuntimeError(f"hand-off of {contact_id} kept changing")

    # --- round robin -----------------------------------------------------------------------
    def round_robin_pick(self, team: str, size: int, pick_key: str) -> int:
        if size <= 0:
            raise ValueError(f"team {team!r} has no members")
        pick = {"pk": _s(f"RRPICK#{pick_key}"), "sk": _s("PICK")}
        counter = {"pk": _s(f"RR#{team}"), "sk": _s("COUNTER")}
        for _ in range(ATTEMPTS):
            done = self._db.get_item(TableName=self._table, Key=pick, ConsistentRead=True).get(
                "Item"
            )
            if done is not None:
                return int(done["n"]["N"]) % size
            item = self._db.get_item(TableName=self._table, Key=counter, ConsistentRead=True).get(
                "Item"
            )
            seen = int(item["n"]["N"]) if item else 0
            guard: dict[str, Any] = (
                {
                    "ConditionExpression": "n = :seen",
                    "ExpressionAttributeValues": {
                        ":seen": {"N": str(seen)},
                        ":next": {"N": str(seen + 1)},
                    },
                }
                if item
                else {
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ExpressionAttributeValues": {":next": {"N": "1"}},
                }
            )
            try:
                # The counter moves only together with this hand-off's pick, so a retry
                # (which finds its pick) never moves it again and no member is skipped.
                self._db.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": counter,
                                "UpdateExpression": "SET n = :next",
                                **guard,
                            }
                        },
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": {
                                    **pick,
                                    "n": {"N": str(seen)},
                                    "expires_at": _expires(PICK_DAYS),
                                },
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                )
                return seen % size
            except self._db.exceptions.TransactionCanceledException:
                continue  # another hand-off took this position, or a retry raced us
        raise RuntimeError(f"round robin of team {team!r} is too contended")

    # --- activity markers ------------------------------------------------------------------
    def mark_active(self, owner: str, contact_id: str, at: str) -> None:
        # Idempotent, and an older activity delivered late never moves the marker back.
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.update_item(
                TableName=self._table,
                Key={"pk": _s(f"SALESACT#{owner}"), "sk": _s(f"CONTACT#{contact_id}")},
                UpdateExpression=(
                    "SET last_at = :at, first_at = if_not_exists(first_at, :at), "
                    "expires_at = :expires"
                ),
                ConditionExpression="attribute_not_exists(last_at) OR last_at < :at",
                ExpressionAttributeValues={":at": _s(at), ":expires": _expires(MARKER_DAYS)},
            )

    def active_contacts(self, owner: str) -> list[ActiveContact]:
        found: list[ActiveContact] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"SALESACT#{owner}")},
            "ConsistentRead": True,
        }
        while True:
            page = self._db.query(**kwargs)
            found.extend(
                ActiveContact(
                    owner=owner,
                    contact_id=i["sk"]["S"].removeprefix("CONTACT#"),
                    first_at=i["first_at"]["S"],
                    last_at=i["last_at"]["S"],
                )
                for i in page["Items"]
            )
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def clear_active(self, marker: ActiveContact) -> None:
        # A failed condition: new activity since, so the next digest reports it.
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.delete_item(
                TableName=self._table,
                Key={
                    "pk": _s(f"SALESACT#{marker.owner}"),
                    "sk": _s(f"CONTACT#{marker.contact_id}"),
                },
                ConditionExpression="last_at = :seen",
                ExpressionAttributeValues={":seen": _s(marker.last_at)},
            )

    def last_digest(self, owner: str) -> str | None:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": _s(f"DIGEST#{owner}"), "sk": _s("LAST")},
            ConsistentRead=True,
        ).get("Item")
        return item["at"]["S"] if item else None

    def set_last_digest(self, owner: str, at: str) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={"pk": _s(f"DIGEST#{owner}"), "sk": _s("LAST"), "at": _s(at)},
        )

    # --- tasks -----------------------------------------------------------------------------
    def complete_task(self, assignee: str, task_id: str, at: str) -> Task | None:
        key = {"pk": _s(f"TASKS#{assignee}"), "sk": _s(f"TASK#{task_id}")}
        item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return None
        data = json.loads(item["doc"]["S"])
        if data.get("status") == "done":
            return Task(**data)
        data["status"] = "done"
        try:
            self._db.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET doc = :doc, completed_at = :at",
                ConditionExpression="doc = :seen",
                ExpressionAttributeValues={
                    ":doc": _s(json.dumps(data)),
                    ":at": _s(at),
                    ":seen": item["doc"],
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return self.complete_task(assignee, task_id, at)
        return Task(**data)

    # --- CRM deliveries --------------------------------------------------------------------
    @staticmethod
    def _delivery_key(delivery_id: str) -> dict[str, Any]:
        return {"pk": _s(f"CRMPUSH#{delivery_id}"), "sk": _s("PUSH")}

    def claim_delivery(self, delivery: CrmDelivery) -> bool:
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **self._delivery_key(delivery.delivery_id),
                                "doc": _s(json.dumps(asdict(delivery))),
                                "status": _s(delivery.status),
                                "expires_at": _expires(35),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": self._pending_item(delivery)}},
                ]
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            return False

    @staticmethod
    def _pending_item(delivery: CrmDelivery) -> dict[str, Any]:
        return {
            "pk": _s("CRMPENDING"),
            "sk": _s(f"{delivery.next_at:012d}#{delivery.delivery_id}"),
            "delivery_id": _s(delivery.delivery_id),
        }

    def save_delivery(self, delivery: CrmDelivery) -> None:
        old = self._db.get_item(
            TableName=self._table, Key=self._delivery_key(delivery.delivery_id), ConsistentRead=True
        ).get("Item")
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        **self._delivery_key(delivery.delivery_id),
                        "doc": _s(json.dumps(asdict(delivery))),
                        "status": _s(delivery.status),
                        "expires_at": _expires(35),
                    },
                }
            }
        ]
        if old is not None:
            before = CrmDelivery(**json.loads(old["doc"]["S"]))
            if (
                before.status == "pending"
                and before.next_at != delivery.next_at
                or (delivery.status != "pending")
            ):
                pending = self._pending_item(before)
                writes.append(
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": {"pk": pending["pk"], "sk": pending["sk"]},
                        }
                    }
                )
        if delivery.status == "pending":
            writes.append({"Put": {"TableName": self._table, "Item": self._pending_item(delivery)}})
        self._db.transact_write_items(TransactItems=writes)

    def due_deliveries(self, now: int, limit: int = 100) -> list[CrmDelivery]:
        resp = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk <= :now",
            ExpressionAttributeValues={":pk": _s("CRMPENDING"), ":now": _s(f"{now:012d}#~")},
            Limit=limit,
            ConsistentRead=True,
        )
        out = []
        for item in resp["Items"]:
            got = self._db.get_item(
                TableName=self._table,
                Key=self._delivery_key(item["delivery_id"]["S"]),
                ConsistentRead=True,
            ).get("Item")
            if got is not None:
                delivery = CrmDelivery(**json.loads(got["doc"]["S"]))
                if delivery.status == "pending":
                    out.append(delivery)
        return out


class UrllibPoster:
    """POSTs to public HTTPS addresses only (WEBHOOK_ALLOW_HOSTS exempts hosts, for tests),
    connecting to the address that was vetted (nurture.webhooks.transport)."""

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        from nurture.webhooks import transport

        allowed = {
            h.strip().lower()
            for h in os.environ.get("WEBHOOK_ALLOW_HOSTS", "").split(",")
            if h.strip()
        }
        try:
            destination = transport.vet(url, allowed)
            return transport.call(destination, "POST", body, headers, timeout)
        except transport.Refused as exc:
            raise PermissionError(str(exc)) from None
        except (transport.Unresolved, transport.CallFailed) as exc:
            raise OSError(str(exc)) from None


class ScoreExplainer:
    """Scores with their reasons from `nurture.scoring` when it is installed; otherwise the
    contact's stored score, without reasons."""

    def __init__(self, contacts: Any, explain: Callable[[str, Any], Any] | None = None):
        self._contacts = contacts
        self._explain = explain

    def explain(self, contact_id: str, at: Any) -> dict[str, Any]:
        if self._explain is not None:
            result = self._explain(contact_id, at)
            if hasattr(result, "model_dump"):
                return dict(result.model_dump(mode="json"))
            if isinstance(result, dict):
                return result
            return {
                "score": getattr(result, "score", 0),
                "grade": getattr(result, "grade", None),
                "reasons": [
                    r if isinstance(r, dict) else getattr(r, "__dict__", {"rule": str(r)})
                    for r in getattr(result, "reasons", [])
                ],
            }
        contact: Contact | None = self._contacts.get(contact_id)
        return {"score": contact.score if contact else 0, "grade": None, "reasons": []}


class ContactAccounts:
    """The contact's account through the contact store, when it keeps accounts."""

    def __init__(self, contacts: Any):
        self._contacts = contacts

    def account_of(self, contact: Contact) -> Any | None:
        account_id = getattr(contact, "account_id", None) or contact.fields.get("account_id")
        getter = getattr(self._contacts, "get_account", None)
        if not account_id or getter is None:
            return None
        account = getter(str(account_id))
        if account is not None and hasattr(account, "model_dump"):
            return account.model_dump(mode="json")
        return account


def webhook_secret(name: str) -> str:
    """A named signing secret: the `name` entry of `webhook-secrets` in Parameter Store
    ("" when it is not there: pushes are then recorded as failed, post-backs refused)."""
    from nurture.secrets import WEBHOOK_SECRETS, SecretMissing, secret_json

    try:
        value = secret_json(WEBHOOK_SECRETS)
    except SecretMissing:
        return ""
    found = value.get(name) if isinstance(value, dict) else None
    return found if isinstance(found, str) else ""


def scoring_explainer(contacts: Any) -> ScoreExplainer:
    """Scores with reasons from `nurture.scoring` (the contact's stored scoring state)."""

    def explain_now(contact_id: str, at: Any) -> Any:
        # imported by the first score explained, not with the desk: the sales digest's hourly
        # run explains none when no digest is due (#9 cold starts)
        from nurture.scoring import explain

        found = explain(contact_id, at, contacts)
        return found.as_dict() if found is not None else {"score": 0, "grade": None, "reasons": []}

    return ScoreExplainer(contacts, explain_now)


def desk_from_env(
    db: Any, s3: Any, sesv2: Any, scores: Any = None, contacts: Any = None, activities: Any = None
) -> Any:
    """The sales desk (with its CRM pusher) as a function's environment configures it;
    `scores` (a ScoreReader, e.g. the react function's Scorer) defaults to reading them;
    `contacts` / `activities`: the caller's stores (the react function's batch reads)."""
    from nurture.adapters.aws import S3Blobs, SesMailer
    from nurture.adapters.delivery import DynamoDelivery
    from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts
    from nurture.delivery.config import MailSettings, load_policy
    from nurture.sales.desk import SalesDesk
    from nurture.sales.pusher import CrmPusher
    from nurture.settings import Tables, load

    tables = load(Tables)
    mail = MailSettings.from_env()
    contacts = contacts or DynamoContacts(db, tables.contacts_table)
    activities = activities or DynamoActivities(db, tables.activities_table, tables.state_table)
    sales = DynamoSales(db, tables.state_table)
    scores = scores or scoring_explainer(contacts)
    accounts = ContactAccounts(contacts)
    desk = SalesDesk(
        contacts=contacts,
        activities=activities,
        sales=sales,
        blobs=S3Blobs(s3, mail.content_bucket),
        delivery=DynamoDelivery(db, tables.state_table, tables.contacts_table),
        mailer=SesMailer(sesv2, mail.configuration_set),
        policy=load_policy(),
        sender=mail.sender_email,
        scores=scores,
        accounts=accounts,
        fallback_owner=os.environ.get("SALES_EMAIL", ""),
    )
    desk.crm = CrmPusher(
        sales=sales,
        activities=activities,
        poster=UrllibPoster(),
        team=lambda: desk.team,
        secret=webhook_secret,
        scores=scores,
        accounts=accounts,
    )
    return desk
