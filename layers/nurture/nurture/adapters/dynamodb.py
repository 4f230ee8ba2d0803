"""DynamoDB adapters: contacts, activities and program state.

Items keep their document as one JSON string (`doc`) plus the few attributes that keys,
streams and filters need, so the schema can grow without migrations.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from nurture import clock
from nurture.adapters.activities import DynamoActivities
from nurture.adapters.bulk import Backoff, put_all
from nurture.admin.keys import search_keys
from nurture.contacts import Contact
from nurture.ports import Enrolment, ProgramRecord, Task, WaitRegistration

if TYPE_CHECKING:  # built where an account is read (no first call of most functions) (#9)
    from nurture.accounts import Account

__all__ = ["DynamoActivities", "DynamoContacts", "DynamoState"]

APPLY_ATTEMPTS = 8  # optimistic retries when a contact is written concurrently
CHANGE_GUARD_DAYS = 35  # how long `apply_once` remembers a change key (retries come sooner)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _version(item: dict[str, Any]) -> str:
    """The version a profile item was stored with ("" for one stored without)."""
    return str(item.get("version", {}).get("S", ""))


class DynamoContacts:
    def __init__(self, client: Any, table: str):
        self._db = client
        self._table = table

    def get(self, contact_id: str) -> Contact | None:
        item = self._profile(contact_id)
        return Contact.model_validate_json(item["doc"]["S"]) if item else None

    def _profile(self, contact_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._db.get_item(
            TableName=self._table,
            Key={"pk": _s(f"CONTACT#{contact_id}"), "sk": _s("PROFILE")},
            ConsistentRead=True,
        ).get("Item")
        return found

    # What a subclass knows of a profile already (BatchContacts, within a stream batch):
    # `_known` gives its document and version as they were stored, `_stored` hears of each
    # profile this adapter wrote.
    def _known(self, contact_id: str) -> tuple[str, str] | None:
        return None

    def _stored(self, contact_id: str, doc: str, version: str) -> None:
        return None

    def contact_for_actor(self, actor: str) -> str | None:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": _s(f"ACTOR#{actor}"), "sk": _s("CONTACT")}
        ).get("Item")
        return item["contact_id"]["S"] if item else None

    def create_if_absent(self, contact: Contact, email: str) -> Contact:
        return self.create_for_actor(contact, f"email:{email}")

    def create_for_actor(self, contact: Contact, actor: str) -> Contact:
        # The identity item is the lock: whoever writes it first owns the email (or user id).
        profile = self._profile_item(contact)
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": _s(f"ACTOR#{actor}"),
                                "sk": _s("CONTACT"),
                                "contact_id": _s(contact.contact_id),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": profile}},
                ]
            )
            self._stored(contact.contact_id, profile["doc"]["S"], profile["version"]["S"])
            return contact
        except self._db.exceptions.TransactionCanceledException:
            existing_id = self.contact_for_actor(actor)
            existing = self.get(existing_id) if existing_id else None
            if existing is None:
                raise
            return existing

    def link_actor(self, actor: str, contact_id: str) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={"pk": _s(f"ACTOR#{actor}"), "sk": _s("CONTACT"), "contact_id": _s(contact_id)},
        )

    def link_actors(self, actors: list[str], contact_id: str) -> None:
        """One BatchWriteItem for up to 25 keys (the same unconditional puts as link_actor;
        what comes back unprocessed is sent again)."""
        if len(actors) == 1:
            self.link_actor(actors[0], contact_id)
        elif actors:
            owner = _s(contact_id)
            items = [
                (self._table, {"pk": _s(f"ACTOR#{a}"), "sk": _s("CONTACT"), "contact_id": owner})
                for a in dict.fromkeys(actors)
            ]
            put_all(self._db, items, Backoff())

    def save(self, contact: Contact) -> None:
        profile = self._profile_item(contact)
        self._db.put_item(TableName=self._table, Item=profile)
        self._stored(contact.contact_id, profile["doc"]["S"], profile["version"]["S"])

    def apply_once(
        self, contact_id: str, key: str, change: Callable[[Contact], dict[str, Any] | None]
    ) -> tuple[bool, dict[str, Any] | None]:
        guard_key = {"pk": _s(f"CONTACT#{contact_id}"), "sk": _s(f"CHANGE#{key}")}
        # The profile as this adapter last read or wrote it (None: read it now, consistently).
        # A change made on it is written on condition that the stored version is still the
        # one it had, as after a read; a copy that is behind fails that condition and the
        # change is made again on a fresh read. "Nothing to save" is only ever decided on a
        # fresh read: the guard it writes would hide a change the copy did not show.
        known = self._known(contact_id)
        for _ in range(APPLY_ATTEMPTS + (known is not None)):
            if known is not None:
                doc, version = known
            else:
                item = self._profile(contact_id)
                if item is None:
                    raise KeyError(contact_id)
                doc, version = item["doc"]["S"], _version(item)
            contact = Contact.model_validate_json(doc)
            note = change(contact)
            if known is not None and note is None:
                known = None
                continue
            profile = self._profile_item(contact) if note is not None else None
            writes: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            **guard_key,
                            "note": _s(json.dumps(note)),
                            "expires_at": {
                                "N": str(int(clock.now().timestamp()) + CHANGE_GUARD_DAYS * 86400)
                            },
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            ]
            if profile is not None:
                writes.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": profile,
                            "ConditionExpression": "version = :seen"
                            if version
                            else "attribute_not_exists(version)",
                            **(
                                {"ExpressionAttributeValues": {":seen": _s(version)}}
                                if version
                                else {}
                            ),
                        }
                    }
                )
            try:
                if profile is None:
                    # Nothing to save: the guard alone, one conditional put (a transaction of
                    # one item would cost twice the write units for the same condition).
                    self._db.put_item(**writes[0]["Put"])
                    self._stored(contact_id, doc, version)  # as read (the change may edit it)
                else:
                    self._db.transact_write_items(TransactItems=writes)
                    self._stored(contact_id, profile["doc"]["S"], profile["version"]["S"])
                return True, note
            except self._db.exceptions.ConditionalCheckFailedException:
                guard_taken = True
            except self._db.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons", [])
                guard_taken = bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"
            if guard_taken:  # applied before (a retry, a copy): its first note
                done = self._db.get_item(TableName=self._table, Key=guard_key, ConsistentRead=True)[
                    "Item"
                ]
                first: dict[str, Any] | None = json.loads(done["note"]["S"])
                return False, first
            # The contact changed since we read it: read again and redo the change.
            known = None
        raise RuntimeError(
            f"contact {contact_id} kept changing; gave up after {APPLY_ATTEMPTS} attempts"
        )

    def scan(self) -> Iterator[Contact]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            # accounts share the sort key: `ACCOUNT#<id>` / `PROFILE`
            "FilterExpression": "sk = :profile AND begins_with(pk, :contact)",
            "ExpressionAttributeValues": {":profile": _s("PROFILE"), ":contact": _s("CONTACT#")},
        }
        while True:
            page = self._db.scan(**kwargs)
            for item in page["Items"]:
                yield Contact.model_validate_json(item["doc"]["S"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_account(self, account_id: str) -> Account | None:
        from nurture.accounts import Account

        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": _s(f"ACCOUNT#{account_id}"), "sk": _s("PROFILE")},
            ConsistentRead=True,
        ).get("Item")
        return Account.model_validate_json(item["doc"]["S"]) if item else None

    def update_account(self, account_id: str, change: Callable[[Account], bool]) -> Account:
        from nurture.accounts import Account

        key = {"pk": _s(f"ACCOUNT#{account_id}"), "sk": _s("PROFILE")}
        for _ in range(APPLY_ATTEMPTS):
            item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get(
                "Item"
            )
            now = clock.iso(clock.now())
            account = (
                Account.model_validate_json(item["doc"]["S"])
                if item
                else Account(account_id=account_id, created_at=now, updated_at=now)
            )
            if not change(account) and item:
                return account
            account.updated_at = now
            condition: dict[str, Any] = (
                {
                    "ConditionExpression": "version = :seen",
                    "ExpressionAttributeValues": {":seen": item["version"]},
                }
                if item
                else {"ConditionExpression": "attribute_not_exists(pk)"}
            )
            new_item = {
                **key,
                "doc": _s(account.model_dump_json()),
                "version": _s(uuid.uuid4().hex),
            }
            if account.domain:
                new_item["domain"] = _s(account.domain)
            try:
                self._db.put_item(TableName=self._table, Item=new_item, **condition)
                return account
            except self._db.exceptions.ConditionalCheckFailedException:
                continue  # written concurrently: read again and redo the change
        raise RuntimeError(
            f"account {account_id} kept changing; gave up after {APPLY_ATTEMPTS} attempts"
        )

    @staticmethod
    def _profile_item(contact: Contact) -> dict[str, Any]:
        item = {
            "pk": _s(f"CONTACT#{contact.contact_id}"),
            "sk": _s("PROFILE"),
            "doc": _s(contact.model_dump_json()),
            "stage": _s(contact.stage),
            "score": {"N": str(contact.score)},
            # A new token on every write lets `apply_once` notice a concurrent one.
            "version": _s(uuid.uuid4().hex),
        }
        if contact.email:
            item["email"] = _s(contact.email)
        # the admin search's index keys (ContactsTable's ByStage, ByGrade, ByAccount, ByName)
        keys = search_keys(
            contact.stage, contact.grade, contact.account_id, contact.first_name, contact.last_name
        )
        item.update({name: _s(value) for name, value in keys.items()})
        return item


class DynamoState:
    def __init__(self, client: Any, table: str):
        self._db = client
        self._table = table

    def register_program(self, record: ProgramRecord) -> None:
        old = self.get_program(record.program_id)
        items = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "pk": _s(f"PROGRAM#{record.program_id}"),
                        "sk": _s("META"),
                        "doc": _s(json.dumps(record.__dict__)),
                    },
                }
            }
        ]
        for trigger in set(old.triggers if old else []) - set(record.triggers):
            items.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {
                            "pk": _s(f"TRIGGER#{trigger}"),
                            "sk": _s(f"PROGRAM#{record.program_id}"),
                        },
                    }
                }
            )
        for trigger in record.triggers:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "pk": _s(f"TRIGGER#{trigger}"),
                            "sk": _s(f"PROGRAM#{record.program_id}"),
                            "program_id": _s(record.program_id),
                        },
                    }
                }
            )
        self._db.transact_write_items(TransactItems=items)

    def get_program(self, program_id: str, consistent: bool = True) -> ProgramRecord | None:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": _s(f"PROGRAM#{program_id}"), "sk": _s("META")},
            ConsistentRead=consistent,
        ).get("Item")
        return ProgramRecord(**json.loads(item["doc"]["S"])) if item else None

    def programs_for_trigger(self, trigger_key: str) -> list[str]:
        resp = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"TRIGGER#{trigger_key}")},
        )
        return [i["program_id"]["S"] for i in resp["Items"]]

    @staticmethod
    def _enrolment_key(contact_id: str, program_id: str) -> dict[str, Any]:
        return {"pk": _s(f"ENROL#{contact_id}"), "sk": _s(f"PROGRAM#{program_id}")}

    @staticmethod
    def _enrolment(item: dict[str, Any]) -> Enrolment:
        return Enrolment(
            contact_id=item["pk"]["S"].removeprefix("ENROL#"),
            program_id=item["sk"]["S"].removeprefix("PROGRAM#"),
            execution=item["execution"]["S"],
            entered_at=item["entered_at"]["S"],
            status=item["status"]["S"],
            entries=int(item["entries"]["N"]),
            execution_arn=item["execution_arn"]["S"] if "execution_arn" in item else None,
        )

    def get_enrolment(self, contact_id: str, program_id: str) -> Enrolment | None:
        item = self._db.get_item(
            TableName=self._table,
            Key=self._enrolment_key(contact_id, program_id),
            ConsistentRead=True,
        ).get("Item")
        return self._enrolment(item) if item else None

    def enrolments_of(self, contact_id: str) -> list[Enrolment]:
        resp = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"ENROL#{contact_id}")},
            ConsistentRead=True,
        )
        return [self._enrolment(i) for i in resp["Items"]]

    def claim_entry(self, entry: Enrolment, replaces: str | None) -> bool:
        item = {
            **self._enrolment_key(entry.contact_id, entry.program_id),
            "execution": _s(entry.execution),
            "entered_at": _s(entry.entered_at),
            "status": _s(entry.status),
            "entries": {"N": str(entry.entries)},
        }
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if replaces is not None:
            condition = {
                "ConditionExpression": "execution = :previous",
                "ExpressionAttributeValues": {":previous": _s(replaces)},
            }
        try:
            self._db.put_item(TableName=self._table, Item=item, **condition)
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def set_entry_status(
        self,
        contact_id: str,
        program_id: str,
        execution: str,
        status: str,
        execution_arn: str | None = None,
    ) -> None:
        values = {":s": _s(status), ":execution": _s(execution)}
        update = "SET #s = :s"
        if execution_arn is not None:
            update += ", execution_arn = :arn"
            values[":arn"] = _s(execution_arn)
        # A failed condition means a later entry replaced this one: nothing to do.
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.update_item(
                TableName=self._table,
                Key=self._enrolment_key(contact_id, program_id),
                UpdateExpression=update,
                ConditionExpression="execution = :execution",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )

    def mark_once(self, key: str, expires_at: int | None = None) -> bool:
        item = {"pk": _s(f"ONCE#{key}"), "sk": _s("ONCE")}
        if expires_at is not None:
            item["expires_at"] = {"N": str(expires_at)}
        try:
            self._db.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def count_attempt(self, key: str, expires_at: int) -> int:
        resp = self._db.update_item(
            TableName=self._table,
            Key={"pk": _s(f"ATTEMPT#{key}"), "sk": _s("ATTEMPT")},
            UpdateExpression="ADD attempts :one SET expires_at = :expires",
            ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str(expires_at)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(resp["Attributes"]["attempts"]["N"])

    def add_task(self, task: Task) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(f"TASKS#{task.assignee}"),
                    "sk": _s(f"TASK#{task.task_id}"),
                    "due": _s(task.due),
                    "doc": _s(json.dumps(task.__dict__)),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def tasks_for(self, assignee: str) -> list[Task]:
        found: list[Task] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"TASKS#{assignee}")},
        }
        while True:
            page = self._db.query(**kwargs)
            found.extend(Task(**json.loads(i["doc"]["S"])) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return sorted(found, key=lambda t: (t.due, t.task_id))
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def register_wait(self, wait: WaitRegistration) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": _s(f"WAIT#{wait.contact_id}#{wait.event_key}"),
                "sk": _s(f"{wait.execution}#{wait.step_id}"),
                "doc": _s(json.dumps(wait.__dict__)),
                "expires_at": {"N": str(wait.expires_at)},
            },
        )

    def waits_for(self, contact_id: str, event_key: str) -> list[WaitRegistration]:
        resp = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"WAIT#{contact_id}#{event_key}")},
            ConsistentRead=True,
        )
        return [WaitRegistration(**json.loads(i["doc"]["S"])) for i in resp["Items"]]

    def remove_wait(self, wait: WaitRegistration) -> None:
        self._db.delete_item(
            TableName=self._table,
            Key={
                "pk": _s(f"WAIT#{wait.contact_id}#{wait.event_key}"),
                "sk": _s(f"{wait.execution}#{wait.step_id}"),
            },
        )

    def claim_send(self, send_key: str) -> str | None:
        key = {"pk": _s(f"SEND#{send_key}"), "sk": _s("SEND")}
        try:
            self._db.put_item(
                TableName=self._table,
                Item={**key, "message_id": _s("")},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return None
        except self._db.exceptions.ConditionalCheckFailedException:
            item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True)["Item"]
            return item["message_id"]["S"] or "in-progress"

    def record_send(self, send_key: str, message_id: str) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={"pk": _s(f"SEND#{send_key}"), "sk": _s("SEND"), "message_id": _s(message_id)},
        )
