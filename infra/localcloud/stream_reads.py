"""The event source mappings' stream reads, from moto's shard in process (#9, local HTTP).

Lambda's pollers are the local cloud's own machinery, not the functions' calls: nothing in
AWS bills or throttles them to a function, and the faults never touch them (their calls are
the harness's). Through botocore, each poll was a GetShardIterator and a GetRecords, with
every record of the batch serialized to JSON by moto and parsed back by botocore (~9% of the
local HTTP bench's CPU). Here the records are read from moto's shard and given the shape
botocore would have parsed from moto's answer:

* `ApproximateCreationDateTime` as moto serializes it (epoch seconds, truncated to the
  millisecond) and botocore parses it (`botocore.utils.parse_timestamp`);
* every other member as moto holds it: strings, numbers and AttributeValue maps that
  botocore passes through unchanged. A record with a binary attribute (`B`, `BS`, which
  botocore decodes from base64) is not read here: the caller reads the batch over botocore.

The records' nested maps (keys and images) are moto's own: a caller never edits them (the
mappings only set `eventSourceARN` at the top of a record, which is a copy).
`tests/integration/test_local_cloud_speed.py` compares them with botocore's, record by record.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any


def read(
    stream_arn: str, shard_id: str, after: str | None, limit: int
) -> list[dict[str, Any]] | None:
    """Up to `limit` records of a shard after a sequence number (None: from the start), as
    botocore's GetRecords would give them; None when they cannot be read here."""
    from localcloud import dynamo_bridge, faults

    if not dynamo_bridge.answering():
        return None  # the bridge is off (moto's HTTP path, e.g. the bench's bridge-off rows)
    shard = _shard(stream_arn)
    if shard is None or shard.id != shard_id:
        return None
    current = faults._current()
    with current.moto_lock if current is not None else nullcontext():
        start = int(after) + 1 if after else shard.starting_sequence_number
        index = start - shard.starting_sequence_number
        if index < 0:
            return None
        records = [item.record for item in shard.items[index : index + limit]]
    out = []
    for record in records:
        stream = record["dynamodb"]
        if _binary(stream.get("NewImage")) or _binary(stream.get("OldImage")):
            return None
        when = _parsed_time(stream["ApproximateCreationDateTime"])
        out.append({**record, "dynamodb": {**stream, "ApproximateCreationDateTime": when}})
    return out


def _shard(stream_arn: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    try:
        _, _, _, region, account, resource = stream_arn.split(":", 5)
        table = dynamodb_backends[account][region].get_table(resource.split("/")[1])
    except Exception:  # noqa: BLE001 - not a stream moto holds: read it over botocore
        return None
    if table.latest_stream_label is None or table.stream_shard is None:
        return None
    if not stream_arn.endswith(f"/stream/{table.latest_stream_label}"):
        return None  # an older stream of a re-created table
    return table.stream_shard


def _parsed_time(value: Any) -> Any:
    """moto's answer (epoch seconds to the millisecond), as botocore parses it."""
    from botocore.utils import parse_timestamp, parse_to_aware_datetime
    from moto.core.serialize import TimestampSerializer

    return parse_timestamp(
        TimestampSerializer._timestamp_unixtimestamp(parse_to_aware_datetime(value))
    )


def _binary(image: dict[str, Any] | None) -> bool:
    return bool(image) and any(_has_binary(v) for v in image.values())  # type: ignore[union-attr]


def _has_binary(value: dict[str, Any]) -> bool:
    if "B" in value or "BS" in value:
        return True
    if "M" in value:
        return any(_has_binary(v) for v in value["M"].values())
    if "L" in value:
        return any(_has_binary(v) for v in value["L"])
    return False
