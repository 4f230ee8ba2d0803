"""DynamoDB, Step Functions and Scheduler adapters of the admin API (nurture.admin.ports).

Reads the ContactsTable's search indexes (ByStage, ByGrade, ByAccount, ByName: keys only,
then one BatchGetItem of the profiles), the ActivitiesTable by actor key, and the
StateTable's suppression index (ByListing). Writes only what a lift changes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from nurture.adapters.activities import page_before
from nurture.admin.ports import IndexQuery, Key

_plain = TypeDeserializer()
_typed = TypeSerializer()
BATCH_GET_MAX = 100


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _to_plain(item: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in item.items():
        got = _plain.deserialize(value)
        out[name] = int(got) if hasattr(got, "to_integral_value") and got == int(got) else got
    return out


def _to_typed(key: Key) -> dict[str, Any]:
    return {name: _typed.serialize(value) for name, value in key.items()}


class DynamoContactIndex:
    def __init__(self, client: Any, contacts_table: str):
        self._db = client
        self._table = contacts_table

    def query(
        self, query: IndexQuery, start: Key | None, limit: int
    ) -> tuple[list[tuple[str, Key]], Key | None]:
        names = {"#h": query.hash_name}
        values: dict[str, Any] = {":h": _s(query.hash_value)}
        condition = "#h = :h"
        if query.prefix is not None:
            names["#r"] = "name_key"
            values[":p"] = _s(query.prefix)
            condition += " AND begins_with(#r, :p)"
        elif query.low is not None or query.high is not None:
            names["#r"] = "score"
            values[":lo"] = {"N": str(query.low if query.low is not None else -(10**9))}
            values[":hi"] = {"N": str(query.high if query.high is not None else 10**9)}
            condition += " AND #r BETWEEN :lo AND :hi"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": query.index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not query.descending,
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = _to_typed(start)
        page = self._db.query(**kwargs)
        found = []
        for item in page.get("Items", []):
            key = _to_plain(item)
            pk = str(key.get("pk", ""))
            if pk.startswith("CONTACT#"):
                found.append((pk.removeprefix("CONTACT#"), key))
        last = page.get("LastEvaluatedKey")
        return found, _to_plain(last) if last else None

    def profiles(self, contact_ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(contact_ids))
        for i in range(0, len(wanted), BATCH_GET_MAX):
            keys = [
                {"pk": _s(f"CONTACT#{cid}"), "sk": _s("PROFILE")}
                for cid in wanted[i : i + BATCH_GET_MAX]
            ]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ProjectionExpression": "doc"}}
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    doc = json.loads(item["doc"]["S"])
                    out[str(doc.get("contact_id"))] = doc
                request = answer.get("UnprocessedKeys") or {}
        return out

    def contact_for_email(self, email: str) -> str | None:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": _s(f"ACTOR#email:{email}"), "sk": _s("CONTACT")}
        ).get("Item")
        return item["contact_id"]["S"] if item else None


class DynamoTimeline:
    """A contact's activity across their actor keys, newest first by `occurred#message_id`,
    from `before` (the cursor) backwards: both key shapes of the activities table, read by
    `nurture.adapters.activities.page_before`."""

    def __init__(self, client: Any, activities_table: str):
        self._db = client
        self._table = activities_table

    def page(
        self, actors: list[str], before: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        return page_before(self._db, self._table, actors, before, limit)


class DynamoSuppressions:
    """`SUPPRESS#<channel>#<hash>` (delivery) and `ERASED#<channel>#<hash>` (privacy) items,
    listed through the StateTable's ByListing index."""

    def __init__(self, client: Any, state_table: str):
        self._db = client
        self._table = state_table

    def page(
        self, channel: str, start: Key | None, limit: int
    ) -> tuple[list[dict[str, Any]], Key | None]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "ByListing",
            "KeyConditionExpression": "listing = :l",
            "ExpressionAttributeValues": {":l": _s(f"SUPPRESS#{channel}")},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = _to_typed(start)
        answer = self._db.query(**kwargs)
        rows = []
        for key in answer.get("Items", []):
            item = self.get(key["pk"]["S"])
            if item is not None:
                rows.append(item)
        last = answer.get("LastEvaluatedKey")
        return rows, _to_plain(last) if last else None

    def _key(self, pk: str) -> dict[str, Any]:
        return {"pk": _s(pk), "sk": _s("ERASED" if pk.startswith("ERASED#") else "SUPPRESS")}

    def get(self, pk: str) -> dict[str, Any] | None:
        item = self._db.get_item(TableName=self._table, Key=self._key(pk), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return None
        if pk.startswith("ERASED#"):
            return {"pk": pk, "reason": "erased", "at": item["at"]["S"], "erased": True}
        doc = json.loads(item["doc"]["S"])
        return {
            "pk": pk,
            "reason": str(doc.get("reason", "")),
            "at": str(doc.get("at", "")),
            "contact_id": str(doc.get("contact_id") or "") or None,
            "detail": str(doc.get("detail") or ""),
            "erased": False,
        }

    def delete(self, pk: str, reason: str) -> bool:
        try:
            self._db.delete_item(
                TableName=self._table,
                Key=self._key(pk),
                ConditionExpression="reason = :r",
                ExpressionAttributeValues={":r": _s(reason)},
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def put_audit(self, record: dict[str, Any]) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": _s("AUDIT#suppression-lift"),
                "sk": _s(f"{record['at']}#{record['suppression'][-16:]}"),
                "doc": _s(json.dumps(record, sort_keys=True)),
            },
        )


class StepFunctionsRuns:
    """A program run's status, version and the step it is at (its history, newest first)."""

    def __init__(self, client: Any):
        self._sfn = client

    def describe(self, execution_arn: str) -> dict[str, Any]:
        try:
            found = self._sfn.describe_execution(executionArn=execution_arn)
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return {"status": "GONE", "version": None, "current_step": None}
        version_arn = str(found.get("stateMachineVersionArn") or "")
        version = version_arn.rsplit(":", 1)[-1] if version_arn else None
        step = None
        if found["status"] == "RUNNING":
            history = self._sfn.get_execution_history(
                executionArn=execution_arn, reverseOrder=True, maxResults=50
            )
            for event in history.get("events", []):
                entered = event.get("stateEnteredEventDetails")
                if entered:
                    step = str(entered.get("name"))
                    break
        return {"status": str(found["status"]), "version": version, "current_step": step}


class ProgramControls:
    """Versions of a program's machine, and what archiving it stops (its running executions
    and pending resume schedules), through the deploy side's adapters."""

    def __init__(self, sfn: Any, scheduler: Any, schedule_group: str):
        self._sfn = sfn
        self._scheduler = scheduler
        self._group = schedule_group

    @staticmethod
    def _machine(alias_arn: str) -> str:
        return alias_arn.rsplit(":", 1)[0] if alias_arn.count(":") > 6 else alias_arn

    def versions(self, alias_arn: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"stateMachineArn": self._machine(alias_arn)}
        while True:
            try:
                page = self._sfn.list_state_machine_versions(**kwargs)
            except self._sfn.exceptions.StateMachineDoesNotExist:
                return []
            for v in page.get("stateMachineVersions", []):
                created = v.get("creationDate")
                out.append(
                    {
                        "version": str(v["stateMachineVersionArn"]).rsplit(":", 1)[-1],
                        "deployed_at": created.isoformat(timespec="seconds").replace("+00:00", "Z")
                        if hasattr(created, "isoformat")
                        else None,
                    }
                )
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return sorted(out, key=lambda v: int(v["version"]) if v["version"].isdigit() else 0)

    def stop_running(self, alias_arn: str, program_id: str, cause: str) -> int:
        from nurture.adapters.schedules import ProgramMachines
        from nurture.programs.compiler import RESUME_SUFFIX

        machine = self._machine(alias_arn)
        prefix = machine[: len(machine) - len(program_id)]
        machines = ProgramMachines(self._sfn, "", prefix)
        return machines.stop_running(program_id, cause) + machines.stop_running(
            program_id + RESUME_SUFFIX, cause
        )

    def cancel_resumes(self, program_id: str) -> int:
        if not self._group:
            return 0
        from nurture.adapters.schedules import EventBridgeResumes

        return EventBridgeResumes(self._scheduler, self._group, "").delete_for_program(program_id)


@contextmanager
def lake_engine(settings: Any, s3: Any) -> Iterator[Any]:
    """The configured report engine for one request: Athena, or DuckDB over a fresh copy of
    the lake in /tmp (removed afterwards)."""
    if settings.report_engine == "athena":
        import boto3

        from nurture.adapters.reporting import AthenaEngine

        yield AthenaEngine(
            boto3.client("athena"), settings.athena_workgroup, settings.lake_database
        )
        return
    from nurture.adapters.lake import S3Lake
    from nurture.reporting.duckdb_engine import DuckDbEngine, copy_lake

    root = Path(tempfile.mkdtemp(prefix="lake-"))
    try:
        copy_lake(S3Lake(s3, settings.content_bucket), root)
        yield DuckDbEngine(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


class IndexBackfill:
    """Adds the admin API's index keys to items written before the indexes existed: the
    search keys of contact profiles (nurture.admin.keys) and the `listing` of suppressions.
    A paged Scan of each table (a one-off, after upgrading); each item is updated only if
    it lacks a key, on condition that it did not change meanwhile (a profile written since
    carries its keys already)."""

    def __init__(self, client: Any, contacts_table: str, state_table: str):
        self._db = client
        self._contacts = contacts_table
        self._state = state_table

    def _scan(self, table: str, condition: str, values: dict[str, Any]) -> Iterator[Any]:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "FilterExpression": condition,
            "ExpressionAttributeValues": values,
        }
        while True:
            page = self._db.scan(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _set(self, table: str, item: dict[str, Any], keys: dict[str, str], guard: str) -> bool:
        names = {f"#k{i}": name for i, name in enumerate(keys)}
        values: dict[str, Any] = {f":k{i}": _s(v) for i, v in enumerate(keys.values())}
        values[":seen"] = item[guard]
        try:
            self._db.update_item(
                TableName=table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET " + ", ".join(f"#k{i} = :k{i}" for i in range(len(keys))),
                ConditionExpression=f"{guard} = :seen",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False  # written meanwhile, with its keys

    def contacts(self) -> dict[str, int]:
        from nurture.admin.keys import search_keys

        counts = {"profiles": 0, "updated": 0}
        profiles = self._scan(
            self._contacts,
            "sk = :p AND begins_with(pk, :c)",
            {":p": _s("PROFILE"), ":c": _s("CONTACT#")},
        )
        for item in profiles:
            counts["profiles"] += 1
            doc = json.loads(item["doc"]["S"])
            keys = search_keys(
                str(doc.get("stage") or "subscriber"),
                doc.get("grade"),
                doc.get("account_id"),
                doc.get("first_name"),
                doc.get("last_name"),
            )
            missing = {k: v for k, v in keys.items() if item.get(k, {}).get("S") != v}
            guard = "version" if "version" in item else "doc"
            if missing and self._set(self._contacts, item, missing, guard):
                counts["updated"] += 1
        return counts

    def suppressions(self) -> dict[str, int]:
        counts = {"suppressions": 0, "updated": 0}
        found = self._scan(
            self._state,
            "(begins_with(pk, :s) OR begins_with(pk, :e)) AND attribute_not_exists(listing)",
            {":s": _s("SUPPRESS#"), ":e": _s("ERASED#")},
        )
        for item in found:
            counts["suppressions"] += 1
            channel = item["pk"]["S"].split("#")[1]
            if "doc" in item:
                at, guard = str(json.loads(item["doc"]["S"]).get("at") or ""), "doc"
            else:
                at, guard = item.get("at", {}).get("S", ""), "at"
            keys = {"listing": f"SUPPRESS#{channel}", "listed_at": at or "1970-01-01T00:00:00Z"}
            if guard in item and self._set(self._state, item, keys, guard):
                counts["updated"] += 1
        return counts
