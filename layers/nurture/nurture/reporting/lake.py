"""The activity lake: every stored activity as one flat row, in gzip NDJSON objects under
`lake/activities/dt=YYYY-MM-DD/` of the content bucket, one object per stream batch.

The row is a fact table: the columns reports group and filter on are top-level (program,
step, variant, revenue, UTM campaign, referrer, stage change, ...), so one SQL text runs on
DuckDB and on Athena (Glue table `activities`, template.yaml) without JSON functions. What
reports do not use stays in `properties` (JSON text). Form traits (names, emails) are not
copied: the lake holds what happened, not who someone is.

Objects are named from the batch's first and last stream sequence numbers, so a retried
batch overwrites its own object; a bisected retry may write an overlapping one, and reports
keep one row per `id` (the DynamoDB key of the activity).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from nurture.reporting.ports import LakeStore
from nurture.tracking.events import Activity

LAKE_PREFIX = "lake/activities/"
# The fit-only contact snapshot predictive training exports (nurture.predictive.lake): an
# erase removes the person's row there too.
PROFILES_PREFIX = "lake/profiles/"
# Revenue comes from a completed order (Segment's e-commerce spec) or a CRM deal won.
REVENUE_EVENTS = frozenset(
    {"Order Completed", "order_completed", "Deal Won", "deal_won", "crm.deal_won"}
)
# The columns of a lake row, in order, with their Athena (Glue) types. DuckDB reads the
# same names (nurture.reporting.engines).
COLUMNS: dict[str, str] = {
    "id": "string",
    "message_id": "string",
    "actor": "string",
    "contact_id": "string",
    "kind": "string",
    "name": "string",
    "ts": "timestamp",
    "program_id": "string",
    "version": "string",
    "step_id": "string",
    "execution": "string",
    "variant": "string",
    "reason": "string",
    "goal": "string",
    "link": "string",
    "url": "string",
    "referrer": "string",
    "referrer_host": "string",
    "url_host": "string",
    "utm_source": "string",
    "utm_medium": "string",
    "utm_campaign": "string",
    "utm_content": "string",
    "revenue": "double",
    "currency": "string",
    "stage_from": "string",
    "stage_to": "string",
    "score_new": "int",
    "created": "boolean",
    "source": "string",
    "response_seconds": "double",
    "actors": "array<string>",
    "properties": "string",
}


def lake_timestamp(iso: str) -> str:
    """`2026-01-05T09:00:00.000Z` -> `2026-01-05 09:00:00.000`: the UTC form both Athena's
    JSON SerDe (Hive timestamps) and DuckDB read as a TIMESTAMP."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _host(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    host = urlsplit(url).hostname
    return host.lower().removeprefix("www.") if host else None


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)[:500]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _revenue(activity: Activity) -> float | None:
    if activity.name not in REVENUE_EVENTS:
        return None
    props = activity.properties
    for key in ("revenue", "total", "amount", "value"):
        amount = _number(props.get(key))
        if amount is not None:
            return amount
    return None


def lake_row(activity: Activity, key: str) -> dict[str, Any]:
    """One activity as a lake row; `key` is its DynamoDB key (`pk#sk`), unique per item."""
    props = activity.properties
    page = activity.page
    found = page.get("utm")
    utm: dict[str, Any] = found if isinstance(found, dict) else {}
    url = page.get("url") if isinstance(page.get("url"), str) else None
    referrer = page.get("referrer") if isinstance(page.get("referrer"), str) else None
    actors = props.get("actors") if activity.name == "contact.identified" else None
    score_new = props.get("new") if activity.name == "contact.score_changed" else None
    return {
        "id": key,
        "message_id": activity.message_id,
        "actor": activity.actor,
        "contact_id": activity.contact_id,
        "kind": activity.kind,
        "name": activity.name,
        "ts": lake_timestamp(activity.occurred_at),
        "program_id": _text(props.get("program_id")),
        "version": _text(props.get("version")),
        "step_id": _text(props.get("step_id")),
        "execution": _text(props.get("execution")),
        "variant": _text(props.get("variant")),
        "reason": _text(props.get("reason")),
        "goal": _text(props.get("goal")),
        "link": _text(props.get("link")),
        "url": url,
        "referrer": referrer,
        "referrer_host": _host(referrer),
        "url_host": _host(url),
        "utm_source": _text(utm.get("source")),
        "utm_medium": _text(utm.get("medium")),
        "utm_campaign": _text(utm.get("name")),
        "utm_content": _text(utm.get("content")),
        "revenue": _revenue(activity),
        "currency": _text(props.get("currency")) if activity.name in REVENUE_EVENTS else None,
        "stage_from": _text(props.get("from"))
        if activity.name == "contact.stage_changed"
        else None,
        "stage_to": _text(props.get("to")) if activity.name == "contact.stage_changed" else None,
        "score_new": score_new if isinstance(score_new, int) else None,
        "created": props.get("created") if activity.name == "contact.identified" else None,
        "source": _text(props.get("source") or utm.get("source")),
        # speed to lead: the sales desk records MQL -> accepted on `lead.accepted`
        "response_seconds": _number(
            props.get("mql_to_accepted_seconds", props.get("response_seconds"))
        ),
        "actors": [a for a in actors if isinstance(a, str)] if isinstance(actors, list) else None,
        "properties": json.dumps(props, sort_keys=True, default=str, separators=(",", ":")),
    }


def object_key(dt: str, first_sequence: str, last_sequence: str) -> str:
    """Deterministic per batch: a retried batch lands on the same key."""
    return f"{LAKE_PREFIX}dt={dt}/{first_sequence}-{last_sequence}.json.gz"


def encode(rows: Iterable[dict[str, Any]]) -> bytes:
    text = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in rows)
    # mtime=0: the same rows make the same bytes, so a retried batch writes an equal object
    return gzip.compress(text.encode(), compresslevel=6, mtime=0)


def decode(blob: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(blob).decode().splitlines() if line]


def write_batch(lake: LakeStore, items: list[tuple[str, str, Activity]]) -> list[str]:
    """Write one stream batch: `items` are (sequence number, DynamoDB key, activity) in
    stream order. One object per day the batch touches; returns the keys written."""
    if not items:
        return []
    first, last = items[0][0], items[-1][0]
    by_day: dict[str, list[dict[str, Any]]] = {}
    for _, key, activity in items:
        row = lake_row(activity, key)
        by_day.setdefault(row["ts"][:10], []).append(row)
    written = []
    for dt, rows in sorted(by_day.items()):
        name = object_key(dt, first, last)
        lake.put(name, encode(rows))
        written.append(name)
    return written


def erase_from_lake(lake: LakeStore, contact_keys: Iterable[str]) -> dict[str, int]:
    """Remove a contact's rows from the lake: `contact_keys` are its contact id and actor
    keys (`anon:...`, `email:...`, `contact:<id>`). Every object holding one of them is
    rewritten without those rows (or deleted when nothing is left). Returns counts."""
    keys = {k for k in contact_keys if k}
    contact_ids = {k.removeprefix("contact:") for k in keys}
    rewritten = deleted = rows_removed = 0
    for name in [*lake.list(LAKE_PREFIX), *lake.list(PROFILES_PREFIX)]:
        rows = decode(lake.get(name))
        kept = [
            r
            for r in rows
            if r.get("actor") not in keys
            and r.get("contact_id") not in contact_ids
            and not (set(r.get("actors") or ()) & keys)
        ]
        if len(kept) == len(rows):
            continue
        rows_removed += len(rows) - len(kept)
        if kept:
            lake.put(name, encode(kept))
            rewritten += 1
        else:
            lake.delete(name)
            deleted += 1
    return {
        "objects_rewritten": rewritten,
        "objects_deleted": deleted,
        "rows_removed": rows_removed,
    }
