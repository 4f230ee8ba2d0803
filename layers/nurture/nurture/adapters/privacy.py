"""DynamoDB, EventBridge Scheduler and S3 adapters for nurture.privacy.

StateTable items written here:
  ERASED#<channel>#<sha256> / ERASED   an erased address: never send to it again
  AUDIT#erase / <time>#<hash>          an erase happened (hashes, time, counts; no personal data)
"""

from __future__ import annotations

import functools
import gzip
import json
from typing import Any

from nurture.privacy.ports import Item, Matcher

EXPORT_SECONDS = 900


@functools.cache
def _deserializer() -> Any:
    # Imported on first use: boto3.dynamodb imports boto3, and the functions that import this
    # module (through adapters.delivery) for `erased_key` would pay for it at every cold start.
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def _to_plain(item: dict[str, Any]) -> Item:
    plain = _deserializer()
    return {k: plain.deserialize(v) for k, v in item.items()}


def erased_key(channel: str, key_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"ERASED#{channel}#{key_hash}"}, "sk": {"S": "ERASED"}}


class DynamoPersonalItems:
    """Reads each table in full (paged Scan) and keeps the items that mention the person."""

    def __init__(self, client: Any, contacts_table: str, activities_table: str, state_table: str):
        self._db = client
        self._tables = {
            "contacts": contacts_table,
            "activities": activities_table,
            "state": state_table,
        }

    def find(self, mentions: Matcher) -> dict[str, list[Item]]:
        found: dict[str, list[Item]] = {}
        for name, table in self._tables.items():
            rows = found.setdefault(name, [])
            for page in self._db.get_paginator("scan").paginate(TableName=table):
                for raw in page.get("Items", []):
                    item = _to_plain(raw)
                    if mentions(json.dumps(item, default=str)):
                        rows.append(item)
        return found

    def delete(self, table: str, items: list[Item]) -> int:
        for item in items:
            self._db.delete_item(
                TableName=self._tables[table],
                Key={"pk": {"S": str(item["pk"])}, "sk": {"S": str(item["sk"])}},
            )
        return len(items)

    def put_erased(self, key_hash: str, channel: str, at: str) -> None:
        self._db.put_item(
            TableName=self._tables["state"],
            Item={
                **erased_key(channel, key_hash),
                "at": {"S": at},
                # listed with the suppressions (StateTable index ByListing); never liftable
                "listing": {"S": f"SUPPRESS#{channel}"},
                "listed_at": {"S": at},
            },
        )

    def put_audit(self, record: dict[str, Any]) -> None:
        first = (record.get("hashes") or ["-"])[0]
        self._db.put_item(
            TableName=self._tables["state"],
            Item={
                "pk": {"S": "AUDIT#erase"},
                "sk": {"S": f"{record['at']}#{first[:16]}"},
                "doc": {"S": json.dumps(record, sort_keys=True)},
            },
        )


class SchedulerPersonalSchedules:
    """The resume schedules (one-time, in the program schedule group) that mention the person."""

    def __init__(self, client: Any, group: str):
        self._scheduler = client
        self._group = group

    def find(self, mentions: Matcher) -> list[Item]:
        found: list[Item] = []
        for page in self._scheduler.get_paginator("list_schedules").paginate(GroupName=self._group):
            for summary in page.get("Schedules", []):
                try:
                    got = self._scheduler.get_schedule(Name=summary["Name"], GroupName=self._group)
                except self._scheduler.exceptions.ResourceNotFoundException:
                    continue  # it fired (and deleted itself) meanwhile
                target = got.get("Target") or {}
                view = {
                    "name": got["Name"],
                    "at": got.get("ScheduleExpression", ""),
                    "description": got.get("Description", ""),
                    "input": target.get("Input", ""),
                }
                if mentions(json.dumps(view)):
                    found.append(view)
        return found

    def delete(self, names: list[str]) -> int:
        deleted = 0
        for name in names:
            try:
                self._scheduler.delete_schedule(Name=name, GroupName=self._group)
                deleted += 1
            except self._scheduler.exceptions.ResourceNotFoundException:
                pass
        return deleted


class S3Exports:
    def __init__(self, client: Any, bucket: str):
        self._s3 = client
        self._bucket = bucket

    def write(self, key: str, body: bytes) -> str:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key},
            ExpiresIn=EXPORT_SECONDS,
        )
        return url

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        ):
            for obj in page.get("Contents", []):
                self._s3.delete_object(Bucket=self._bucket, Key=obj["Key"])
                deleted += 1
        return deleted

    def purge_old_versions(self, prefixes: list[str], mentions: Matcher) -> int:
        """Delete the bucket's noncurrent versions under `prefixes` that mention the person
        (an erase rewrites lake objects; versioning keeps what they held until the lifecycle
        rule removes it a day later)."""
        deleted = 0
        for prefix in prefixes:
            pages = self._s3.get_paginator("list_object_versions").paginate(
                Bucket=self._bucket, Prefix=prefix
            )
            for page in pages:
                for version in page.get("Versions", []):
                    if version.get("IsLatest"):
                        continue
                    key, version_id = version["Key"], version["VersionId"]
                    body = self._s3.get_object(Bucket=self._bucket, Key=key, VersionId=version_id)[
                        "Body"
                    ].read()
                    if key.endswith(".gz"):
                        body = gzip.decompress(body)
                    if mentions(key + body.decode("utf-8", "replace")):
                        self._s3.delete_object(Bucket=self._bucket, Key=key, VersionId=version_id)
                        deleted += 1
        return deleted
