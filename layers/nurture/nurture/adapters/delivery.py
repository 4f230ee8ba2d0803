"""DynamoDB (StateTable, ContactsTable) and SNS adapters for nurture.delivery.

StateTable items written here:
  DELIVERY#<send id> / SEND          the send ledger (a step sends once)
  SUPPRESS#<channel>#<hash> / SUPPRESS   never send to this address again, and why
  SOFTBOUNCE#<hash> / <epoch>#<event>    soft bounces within the window (TTL)
  CAP#<contact>#<channel> / CAP          recent marketing sends, for the frequency cap
  STATS#<program> / STEP#<step>          ADD counters per program step (no once-key)
  STATS#<program> / STEP#<step>#ONCE#<h> counters of one event, put once (h: its once-key hashed)
  PHONE#<hash> / CONTACT#<id>            which contacts an SMS number belongs to
Addresses are stored hashed in keys, so a key never shows an email or a phone number.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from typing import Any

from nurture import clock
from nurture.adapters.dynamodb import DynamoContacts
from nurture.adapters.privacy import erased_key
from nurture.contacts import Contact
from nurture.delivery.caps import evaluate
from nurture.delivery.errors import DeliveryRejected, DeliveryThrottled
from nurture.delivery.ports import CapDecision, LedgerEntry, OutgoingSms, SuppressionRecord
from nurture.privacy.hashes import erased_hash

LEDGER_DAYS = 400  # longer than any program run (a Standard workflow lasts at most a year)
ONCE_MARK = "#ONCE#"
CAS_ATTEMPTS = 8


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def address_hash(channel: str, address: str) -> str:
    return hashlib.sha256(f"{channel}:{address.strip().lower()}".encode()).hexdigest()[:40]


class DynamoDelivery:
    def __init__(self, client: Any, state_table: str, contacts_table: str):
        self._db = client
        self._state = state_table
        self._contacts = contacts_table

    # --- ledger ---------------------------------------------------------------------
    @staticmethod
    def _ledger_key(send_id: str) -> dict[str, Any]:
        return {"pk": _s(f"DELIVERY#{send_id}"), "sk": _s("SEND")}

    def ledger_get(self, send_id: str) -> LedgerEntry | None:
        # Eventually consistent (half the read units): no caller reads its own write here,
        # and every caller claims before it sends (`ledger_claim`, conditional): a stale
        # read of a claim or a send made a moment ago ends in that claim failing (deferred,
        # or "already sent"), never in a second message.
        item = self._db.get_item(TableName=self._state, Key=self._ledger_key(send_id)).get("Item")
        if not item:
            return None
        return LedgerEntry(
            status=item.get("status", {}).get("S"),
            claimed_at=int(item.get("claimed_at", {}).get("N", "0")),
            message_id=item.get("message_id", {}).get("S", ""),
            reason=item.get("reason", {}).get("S", ""),
            first_deferred_at=int(item.get("first_deferred_at", {}).get("N", "0")),
        )

    def _expires(self) -> dict[str, str]:
        return _n(int(clock.now().timestamp()) + LEDGER_DAYS * 86400)

    def ledger_note_deferred(self, send_id: str, now: int) -> None:
        self._db.update_item(
            TableName=self._state,
            Key=self._ledger_key(send_id),
            UpdateExpression="SET first_deferred_at = if_not_exists(first_deferred_at, :now), expires_at = :exp",
            ExpressionAttributeValues={":now": _n(now), ":exp": self._expires()},
        )

    def ledger_claim(self, send_id: str, now: int, take_over_from: int | None = None) -> bool:
        if take_over_from is None:
            condition = "attribute_not_exists(#s)"
            values = {":now": _n(now), ":claimed": _s("claimed"), ":exp": self._expires()}
        else:
            condition = "#s = :claimed AND claimed_at = :old"
            values = {
                ":now": _n(now),
                ":claimed": _s("claimed"),
                ":old": _n(take_over_from),
                ":exp": self._expires(),
            }
        try:
            self._db.update_item(
                TableName=self._state,
                Key=self._ledger_key(send_id),
                UpdateExpression="SET #s = :claimed, claimed_at = :now, expires_at = :exp",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def ledger_sent(self, send_id: str, message_id: str) -> None:
        self._db.update_item(
            TableName=self._state,
            Key=self._ledger_key(send_id),
            UpdateExpression="SET #s = :sent, message_id = :m",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":sent": _s("sent"), ":m": _s(message_id)},
        )

    def ledger_failed(self, send_id: str, reason: str) -> None:
        self._db.update_item(
            TableName=self._state,
            Key=self._ledger_key(send_id),
            UpdateExpression="SET #s = :failed, reason = :r",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":failed": _s("failed"), ":r": _s(reason[:500])},
        )

    def ledger_release(self, send_id: str) -> None:
        # not claimed (any more): nothing to release
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.update_item(
                TableName=self._state,
                Key=self._ledger_key(send_id),
                UpdateExpression="REMOVE #s, claimed_at",
                ConditionExpression="#s = :claimed",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":claimed": _s("claimed")},
            )

    def ledger_confirm(self, send_id: str, message_id: str) -> None:
        # Already recorded as sent (the usual case: the sender writes it as SES answers, the
        # Send event comes seconds later): an eventual read (0.5 read unit) spares the
        # conditional write (1 write unit even when its condition fails). "sent" is final,
        # so a stale read can only show an earlier state, which goes on to the write.
        item = self._db.get_item(
            TableName=self._state,
            Key=self._ledger_key(send_id),
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "status"},
        ).get("Item")
        if item and item.get("status", {}).get("S") == "sent":
            return
        # not ours, or sent already: nothing to do
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.update_item(
                TableName=self._state,
                Key=self._ledger_key(send_id),
                UpdateExpression="SET #s = :sent, message_id = :m",
                ConditionExpression="#s = :claimed",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":sent": _s("sent"),
                    ":m": _s(message_id),
                    ":claimed": _s("claimed"),
                },
            )

    # --- suppression ----------------------------------------------------------------
    @staticmethod
    def _suppress_key(channel: str, address: str) -> dict[str, Any]:
        return {
            "pk": _s(f"SUPPRESS#{channel}#{address_hash(channel, address)}"),
            "sk": _s("SUPPRESS"),
        }

    def suppression_for(self, channel: str, address: str) -> SuppressionRecord | None:
        """The address's suppression; an erased person's address (nurture.privacy, kept as
        a hash only) counts as suppressed. Two GetItems, not a BatchGetItem: the functions
        that send hold dynamodb:GetItem on the StateTable already. Both eventually
        consistent (half the read units): nothing reads its own write here, and a bounce,
        complaint or erasure stored less than a second ago is read as one a second later."""
        item = self._db.get_item(
            TableName=self._state, Key=self._suppress_key(channel, address)
        ).get("Item")
        if item:
            return SuppressionRecord(**json.loads(item["doc"]["S"]))
        erased = self._db.get_item(
            TableName=self._state,
            Key=erased_key(channel, erased_hash(channel, address)),
        ).get("Item")
        if erased:
            return SuppressionRecord(channel=channel, reason="erased", at=erased["at"]["S"])
        return None

    def suppress(self, address: str, record: SuppressionRecord) -> bool:
        try:
            self._db.put_item(
                TableName=self._state,
                Item={
                    **self._suppress_key(record.channel, address),
                    "doc": _s(json.dumps(record.__dict__)),
                    "reason": _s(record.reason),
                    # the admin API's suppression list (StateTable index ByListing)
                    "listing": _s(f"SUPPRESS#{record.channel}"),
                    "listed_at": _s(record.at),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False  # the first reason stays on record

    def unsuppress(self, channel: str, address: str, only_reason: str) -> bool:
        try:
            self._db.delete_item(
                TableName=self._state,
                Key=self._suppress_key(channel, address),
                ConditionExpression="reason = :r",
                ExpressionAttributeValues={":r": _s(only_reason)},
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def soft_bounces(self, address: str, event_id: str, at: int, window_seconds: int) -> int:
        pk = _s(f"SOFTBOUNCE#{address_hash('email', address)}")
        self._db.put_item(
            TableName=self._state,
            Item={
                "pk": pk,
                "sk": _s(f"{at:012d}#{event_id}"),
                "expires_at": _n(at + window_seconds),
            },
        )
        resp = self._db.query(
            TableName=self._state,
            KeyConditionExpression="pk = :pk AND sk >= :from",
            ExpressionAttributeValues={":pk": pk, ":from": _s(f"{at - window_seconds:012d}")},
            Select="COUNT",
            ConsistentRead=True,
        )
        return int(resp["Count"])

    # --- frequency caps ---------------------------------------------------------------
    @staticmethod
    def _cap_key(contact_id: str, channel: str) -> dict[str, Any]:
        return {"pk": _s(f"CAP#{contact_id}#{channel}"), "sk": _s("CAP")}

    def _cap_read(self, key: dict[str, Any]) -> tuple[list[tuple[int, str]], int | None]:
        item = self._db.get_item(TableName=self._state, Key=key, ConsistentRead=True).get("Item")
        if not item:
            return [], None
        return [(int(a), str(b)) for a, b in json.loads(item["sends"]["S"])], int(
            item["version"]["N"]
        )

    def _cap_write(
        self, key: dict[str, Any], sends: list[tuple[int, str]], version: int | None, expires: int
    ) -> bool:
        condition = "attribute_not_exists(pk)" if version is None else "version = :v"
        values = {} if version is None else {":v": _n(version)}
        try:
            self._db.put_item(
                TableName=self._state,
                Item={
                    **key,
                    "sends": _s(json.dumps(sends)),
                    "version": _n((version or 0) + 1),
                    "expires_at": _n(expires),
                },
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def reserve_cap(
        self, contact_id: str, channel: str, send_id: str, now: int, window_seconds: int, limit: int
    ) -> CapDecision:
        key = self._cap_key(contact_id, channel)
        for _ in range(CAS_ATTEMPTS):
            sends, version = self._cap_read(key)
            decision = evaluate(sends, now, send_id, limit, window_seconds)
            if not decision.allowed or decision.counted == sorted(sends):
                return decision
            if self._cap_write(key, decision.counted, version, now + window_seconds):
                return decision
        raise RuntimeError("frequency cap: too much contention, try again")

    def release_cap(self, contact_id: str, channel: str, send_id: str) -> None:
        key = self._cap_key(contact_id, channel)
        for _ in range(CAS_ATTEMPTS):
            sends, version = self._cap_read(key)
            kept = [s for s in sends if s[1] != send_id]
            if len(kept) == len(sends):
                return
            latest = max((s[0] for s in kept), default=int(clock.now().timestamp()))
            if self._cap_write(key, kept, version, latest + 400 * 86400):
                return

    # --- counters ----------------------------------------------------------------------
    @staticmethod
    def _once_sk(step_id: str, once_key: str) -> str:
        # hashed: a once-key may name a contact, and a count outlives (and survives) an erase
        return f"STEP#{step_id}{ONCE_MARK}{hashlib.sha256(once_key.encode()).hexdigest()[:32]}"

    def count(
        self, program_id: str, step_id: str, counters: dict[str, int], once_key: str | None
    ) -> bool:
        """With a once-key, one conditional PutItem of an item of its own (its key hashed from
        the once-key, its counters as attributes; `counts` sums them): the write is its own
        dedupe guard, so a retried or redelivered event counts once, at one write unit and with
        no transaction. Without one, an ADD on the step's item."""
        if once_key is None:
            self._db.update_item(
                TableName=self._state,
                Key={"pk": _s(f"STATS#{program_id}"), "sk": _s(f"STEP#{step_id}")},
                UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counters))),
                ExpressionAttributeNames={f"#c{i}": name for i, name in enumerate(counters)},
                ExpressionAttributeValues={
                    f":c{i}": _n(v) for i, v in enumerate(counters.values())
                },
            )
            return True
        try:
            self._db.put_item(
                TableName=self._state,
                Item={
                    "pk": _s(f"STATS#{program_id}"),
                    "sk": _s(self._once_sk(step_id, once_key)),
                    **{name: _n(value) for name, value in counters.items()},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def counts(self, program_id: str) -> dict[str, dict[str, int]]:
        """The program's counters, summed per step."""
        totals: dict[str, dict[str, int]] = {}
        query: dict[str, Any] = {
            "TableName": self._state,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"STATS#{program_id}")},
        }
        while True:
            resp = self._db.query(**query)
            for item in resp["Items"]:
                step = item["sk"]["S"].removeprefix("STEP#").split(ONCE_MARK, 1)[0]
                into = totals.setdefault(step, {})
                for name, value in item.items():
                    if "N" in value and name not in ("pk", "sk"):
                        into[name] = into.get(name, 0) + int(value["N"])
            if "LastEvaluatedKey" not in resp:
                return totals
            query["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # --- contacts ----------------------------------------------------------------------
    def update_contact(self, contact_id: str, change: Callable[[Contact], bool]) -> Contact | None:
        key = {"pk": _s(f"CONTACT#{contact_id}"), "sk": _s("PROFILE")}
        for _ in range(CAS_ATTEMPTS):
            item = self._db.get_item(TableName=self._contacts, Key=key, ConsistentRead=True).get(
                "Item"
            )
            if not item:
                return None
            old_doc = item["doc"]["S"]
            contact = Contact.model_validate_json(old_doc)
            if not change(contact):
                return contact
            contact.updated_at = clock.iso(clock.now())
            try:
                self._db.put_item(
                    TableName=self._contacts,
                    Item=DynamoContacts._profile_item(contact),
                    ConditionExpression="doc = :old",
                    ExpressionAttributeValues={":old": _s(old_doc)},
                )
                return contact
            except self._db.exceptions.ConditionalCheckFailedException:
                continue  # someone else changed the contact meanwhile: apply the change again
        raise RuntimeError(f"contact {contact_id}: too much contention, try again")

    def remember_phone(self, phone: str, contact_id: str) -> None:
        self._db.put_item(
            TableName=self._state,
            Item={
                "pk": _s(f"PHONE#{address_hash('sms', phone)}"),
                "sk": _s(f"CONTACT#{contact_id}"),
                "contact_id": _s(contact_id),
            },
        )

    def contacts_for_phone(self, phone: str) -> list[str]:
        resp = self._db.query(
            TableName=self._state,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"PHONE#{address_hash('sms', phone)}")},
        )
        return [i["contact_id"]["S"] for i in resp["Items"]]


# SES v2 / SNS error codes: which mean "slow down" and which mean "never".
THROTTLING_CODES = {
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "Throttled",  # SNS's code for ThrottledException (its SMS rate)
}
LATER_CODES = {
    "LimitExceededException": 3600,
    "SendingPausedException": 3600,
}  # daily quota, paused
REJECTED_CODES = {
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "BadRequestException",
    "AccountSuspendedException",
    "NotFoundException",
    "InvalidParameter",
    "InvalidParameterValue",
    "OptedOut",
    "EndpointDisabled",
}


def translate_client_error(exc: Exception) -> Exception | None:
    """A botocore ClientError as DeliveryThrottled/DeliveryRejected, or None to re-raise."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = str(response.get("Error", {}).get("Code", ""))
    message = str(response.get("Error", {}).get("Message", ""))[:300]
    if code in THROTTLING_CODES:
        return DeliveryThrottled(code)
    if code in LATER_CODES:
        return DeliveryThrottled(code, LATER_CODES[code])
    if code in REJECTED_CODES:
        return DeliveryRejected(code, message)
    return None


class SnsTexter:
    """SMS through SNS Publish to a phone number."""

    def __init__(self, client: Any):
        self._sns = client

    def send(self, sms: OutgoingSms) -> str:
        from botocore.exceptions import ClientError

        attributes = {
            "AWS.SNS.SMS.SMSType": {
                "DataType": "String",
                "StringValue": "Transactional" if sms.transactional else "Promotional",
            }
        }
        if sms.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": sms.sender_id,
            }
        try:
            resp = self._sns.publish(
                PhoneNumber=sms.to, Message=sms.text, MessageAttributes=attributes
            )
        except ClientError as exc:
            translated = translate_client_error(exc)
            if translated is None:
                raise
            raise translated from exc
        return str(resp["MessageId"])
