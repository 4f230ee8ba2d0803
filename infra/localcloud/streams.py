# mypy: disable-error-code="misc"
# (the mixins annotate self as the LocalCloud they are part of, so their bodies are checked)
"""DynamoDB stream event source mappings: poll the table streams, deliver batches to the
functions the template subscribes, with Lambda's retry behaviour."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud, _Function

from localcloud.constants import REGION


class StreamsMixin:
    def _poll_streams(self: LocalCloud) -> bool:
        # moto answers only the regional host, not the newer account-based stream endpoints
        streams = self.__dict__.get("_streams_client") or self._session.client(
            "dynamodbstreams",
            region_name=REGION,
            endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
        )
        self.__dict__["_streams_client"] = streams
        delivered = False
        for fn in self.functions.values():
            for ev in fn.events.values():
                if ev["Type"] != "DynamoDB":
                    continue
                props = ev["Properties"]
                stream_arn = props["Stream"]
                iterators = self._shard_iterators.setdefault(stream_arn, {})
                for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"][
                    "Shards"
                ]:
                    shard_id = shard["ShardId"]
                    if shard_id not in iterators:
                        iterators[shard_id] = streams.get_shard_iterator(
                            StreamArn=stream_arn,
                            ShardId=shard_id,
                            ShardIteratorType="TRIM_HORIZON",
                        )["ShardIterator"]
                    iterator = iterators[shard_id]
                    if iterator is None:
                        continue
                    resp = streams.get_records(
                        ShardIterator=iterator, Limit=int(props.get("BatchSize", 100))
                    )
                    iterators[shard_id] = resp.get("NextShardIterator")
                    records = [r for r in resp["Records"] if _matches_filters(r, props)]
                    if records:
                        delivered = True
                        self._deliver_stream(fn, stream_arn, records, props)
        return delivered

    def _deliver_stream(
        self: LocalCloud,
        fn: _Function,
        stream_arn: str,
        records: list[dict[str, Any]],
        props: dict[str, Any],
    ) -> None:
        for record in records:
            record["eventSourceARN"] = stream_arn
            self._observe_activity(record)
        attempts = int(props.get("MaximumRetryAttempts", 2)) + 1
        pending = records
        for _ in range(attempts):
            try:
                result = self.invoke(fn.logical_id, {"Records": _json_safe(pending)})
            except Exception as exc:  # noqa: BLE001 - the whole batch is retried, as Lambda does
                self.errors.append(f"{fn.logical_id}: {type(exc).__name__}: {exc}")
                continue
            failures = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            if not failures:
                return
            pending = [r for r in pending if r["dynamodb"]["SequenceNumber"] in failures]
        self.errors.append(f"{fn.logical_id}: {len(pending)} stream record(s) kept failing")


def _matches_filters(record: dict[str, Any], props: dict[str, Any]) -> bool:
    filters = props.get("FilterCriteria", {}).get("Filters", [])
    if not filters:
        return True
    for f in filters:
        pattern = json.loads(f["Pattern"])
        if all(record.get(k) in v for k, v in pattern.items() if isinstance(v, list)):
            return True
    return False


def _json_safe(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.timestamp()
        return str(value)

    out: list[dict[str, Any]] = json.loads(json.dumps(records, default=default))
    return out
