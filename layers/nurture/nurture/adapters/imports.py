"""DynamoDB store of contact imports (nurture.imports.ports.ImportStore): bulk reads
(BatchGetItem, 100 keys a call) and bulk writes (BatchWriteItem, 25 puts a call; the
`contact.imported` activities as the ingest path stores them, PartiQL INSERTs, 25 a call),
no transaction per row.

- New contacts: their profile item and their `ACTOR#email:<address>` identity item go out
  in BatchWriteItem calls. Their ids come from the address (`merge.new_contact_id`), so a
  chunk written again after a crash writes the same items. The identity item is written
  without a condition (a batch put has none): a sign-up of the same address in the second
  between the import's read and its write would lose its identity item to the import's
  contact. Imports of new addresses are an operator's act, not a race with the public.
- Changed contacts: one PutItem each on condition that the profile's `version` is the one
  read (what `DynamoContacts.apply_once` checks), so a change made meanwhile (an
  unsubscribe) is never lost: the import reads that contact again and merges again.
- Suppressions and erasures: `SUPPRESS#` and `ERASED#` keys of the StateTable, read in bulk.
"""

from __future__ import annotations

import io
import json
from typing import IO, Any

from nurture.adapters.activities import DynamoActivities
from nurture.adapters.bulk import Backoff, get_all, put_all
from nurture.adapters.delivery import address_hash
from nurture.adapters.dynamodb import DynamoContacts
from nurture.adapters.privacy import erased_key
from nurture.contacts import Contact
from nurture.privacy.hashes import erased_hash
from nurture.tracking.events import Activity


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DynamoImports:
    def __init__(self, client: Any, contacts_table: str, activities_table: str, state_table: str):
        self._db = client
        self._contacts = contacts_table
        self._state = state_table
        self._activities = DynamoActivities(client, activities_table, state_table)

    def load(self, emails: list[str]) -> dict[str, tuple[Contact, str | None]]:
        if not emails:
            return {}
        backoff = Backoff()
        actors = get_all(
            self._db,
            self._contacts,
            [{"pk": _s(f"ACTOR#email:{e}"), "sk": _s("CONTACT")} for e in emails],
            backoff,
        )
        owner = {i["pk"]["S"].removeprefix("ACTOR#email:"): i["contact_id"]["S"] for i in actors}
        ids = sorted(set(owner.values()))
        profiles = get_all(
            self._db,
            self._contacts,
            [{"pk": _s(f"CONTACT#{c}"), "sk": _s("PROFILE")} for c in ids],
            backoff,
        )
        by_id = {
            i["pk"]["S"].removeprefix("CONTACT#"): (
                Contact.model_validate_json(i["doc"]["S"]),
                i.get("version", {}).get("S"),
            )
            for i in profiles
        }
        return {e: by_id[c] for e, c in owner.items() if c in by_id}

    def blocks(self, addresses: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        keys: dict[str, tuple[tuple[str, str], str]] = {}
        for channel, address in addresses:
            suppress = f"SUPPRESS#{channel}#{address_hash(channel, address)}"
            erased = erased_key(channel, erased_hash(channel, address))["pk"]["S"]
            keys[suppress] = ((channel, address), "SUPPRESS")
            keys[erased] = ((channel, address), "ERASED")
        found = get_all(
            self._db,
            self._state,
            [{"pk": _s(pk), "sk": _s(sk)} for pk, (_, sk) in keys.items()],
            Backoff(),
            projection="pk, reason",
        )
        out: dict[tuple[str, str], str] = {}
        for item in found:
            which, kind = keys[item["pk"]["S"]]
            if kind == "ERASED":
                out[which] = "erased"
            else:
                out.setdefault(which, item.get("reason", {}).get("S", "suppressed"))
        return out

    def create(self, contacts: list[Contact]) -> None:
        puts: list[tuple[str, dict[str, Any]]] = []
        for contact in contacts:
            puts.append((self._contacts, DynamoContacts._profile_item(contact)))
            puts.append(
                (
                    self._contacts,
                    {
                        "pk": _s(f"ACTOR#email:{contact.email}"),
                        "sk": _s("CONTACT"),
                        "contact_id": _s(contact.contact_id),
                    },
                )
            )
        put_all(self._db, puts, Backoff())

    def update(self, changed: list[tuple[Contact, str | None]]) -> list[str]:
        conflicts = []
        for contact, version in changed:
            condition: dict[str, Any] = (
                {
                    "ConditionExpression": "version = :seen",
                    "ExpressionAttributeValues": {":seen": _s(version)},
                }
                if version
                else {"ConditionExpression": "attribute_not_exists(version)"}
            )
            try:
                self._db.put_item(
                    TableName=self._contacts,
                    Item=DynamoContacts._profile_item(contact),
                    **condition,
                )
            except self._db.exceptions.ConditionalCheckFailedException:
                conflicts.append(contact.contact_id)
        return conflicts

    def record(self, activities: list[Activity]) -> None:
        self._activities.put_many_new(activities)


class DynamoImportJobs:
    """Import jobs (nurture.imports.jobs.Job) as `IMPORT#<id>` / `IMPORT` in the StateTable."""

    def __init__(self, client: Any, state_table: str):
        self._db = client
        self._table = state_table

    @staticmethod
    def _key(import_id: str) -> dict[str, Any]:
        return {"pk": _s(f"IMPORT#{import_id}"), "sk": _s("IMPORT")}

    def get(self, import_id: str) -> Any:
        from nurture.imports.jobs import Job

        item = self._db.get_item(
            TableName=self._table, Key=self._key(import_id), ConsistentRead=True
        ).get("Item")
        return Job(**json.loads(item["doc"]["S"])) if item else None

    def _item(self, job: Any) -> dict[str, Any]:
        return {
            **self._key(job.import_id),
            "doc": _s(json.dumps(job.as_dict())),
            "next_row": {"N": str(job.next_row)},
        }

    def create(self, job: Any) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=self._item(job),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def save(self, job: Any, from_row: int) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=self._item(job),
                # progress moves on from where this part found it, or not at all
                ConditionExpression="attribute_not_exists(next_row) OR next_row = :from",
                ExpressionAttributeValues={":from": {"N": str(from_row)}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True


class S3ImportFiles:
    """The files of imports under `imports/` in the content bucket."""

    def __init__(self, client: Any, bucket: str):
        self._s3 = client
        self._bucket = bucket

    def etag(self, key: str) -> str | None:
        try:
            return str(self._s3.head_object(Bucket=self._bucket, Key=key)["ETag"])
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def open_text(self, key: str) -> IO[str]:
        body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]
        return io.TextIOWrapper(
            io.BufferedReader(_Readable(body)), encoding="utf-8-sig", newline=""
        )

    def put_text(self, key: str, text: str) -> None:
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=text.encode(), ContentType="text/csv"
        )

    def texts_under(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        ):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return [
            self._s3.get_object(Bucket=self._bucket, Key=k)["Body"].read().decode()
            for k in sorted(keys)
        ]


class _Readable(io.RawIOBase):
    """botocore's StreamingBody as a raw stream TextIOWrapper can read line by line."""

    def __init__(self, body: Any):
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
