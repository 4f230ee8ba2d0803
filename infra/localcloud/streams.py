# mypy: disable-error-code="misc"
# (the mixins annotate self as the LocalCloud they are part of, so their bodies are checked)
"""DynamoDB stream event source mappings: poll the table streams, deliver batches to the
functions the template subscribes, failing the way Lambda fails.

Each mapping (function + event) keeps its own checkpoint per shard, as Lambda does, so two
functions can consume one stream. A checkpoint is a sequence number, not a held shard
iterator: every poll asks for a fresh iterator after it. moto swaps in a copy of a table
when a transaction is cancelled, and an iterator held across that keeps reading the old
copy, so the functions would silently stop hearing about new records.

On a function error: `BisectBatchOnFunctionError` splits the batch in two (splitting does
not consume the retry quota), `MaximumRetryAttempts` bounds the retries,
`ReportBatchItemFailures` retries from the lowest failed sequence number, and a batch that
still fails goes to `DestinationConfig.OnFailure` as Lambda's invocation record
(`DDBStreamBatchInfo`). The records after it are processed: one poison record cannot hold
back its shard."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

from localcloud import stream_reads
from localcloud.constants import REGION
from localcloud.moto_patches import stream_generation
from localcloud.moto_speed import stream_length

# Lambda's default (-1) retries until the record expires from the stream (24 hours), which
# blocks the shard for a day; locally such a batch is given up after this many attempts.
UNBOUNDED_RETRIES_LOCALLY = 10


@dataclass
class StreamMapping:
    """One DynamoDB event source mapping: its settings, checkpoints and what it delivered."""

    function: str  # logical id
    event: str  # the event's name in the template
    stream_arn: str
    props: dict[str, Any]
    checkpoints: dict[str, str] = field(default_factory=dict)  # shard id -> last sequence
    delivered: set[str] = field(default_factory=set)  # sequence numbers passed to the function
    read_empty_at: dict[str, int] = field(default_factory=dict)  # shard id -> records then

    @property
    def key(self) -> str:
        return f"{self.function}.{self.event}"

    @property
    def batch_size(self) -> int:
        return int(self.props.get("BatchSize", 100))

    @property
    def bisect(self) -> bool:
        return bool(self.props.get("BisectBatchOnFunctionError", False))

    @property
    def max_retries(self) -> int:
        value = int(self.props.get("MaximumRetryAttempts", -1))
        return UNBOUNDED_RETRIES_LOCALLY if value < 0 else value

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.props.get("FunctionResponseTypes", [])

    @property
    def on_failure(self) -> str | None:
        dest = self.props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return str(dest) if dest else None

    def matches(self, record: dict[str, Any]) -> bool:
        return matches_filters(record, self.props)


class StreamsMixin:
    def stream_mappings(self: LocalCloud) -> list[StreamMapping]:
        """The template's DynamoDB event source mappings, made once."""
        mappings: list[StreamMapping] | None = self.__dict__.get("_stream_mappings")
        if mappings is None:
            mappings = [
                StreamMapping(fn.logical_id, name, ev["Properties"]["Stream"], ev["Properties"])
                for fn in self.functions.values()
                for name, ev in fn.events.items()
                if ev["Type"] == "DynamoDB"
            ]
            self.__dict__["_stream_mappings"] = mappings
        return mappings

    def streams_client(self: LocalCloud) -> Any:
        # moto answers only the regional host, not the newer account-based stream endpoints
        client = self.__dict__.get("_streams_client")
        if client is None:
            client = self._session.client(
                "dynamodbstreams",
                region_name=REGION,
                endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
            )
            self.__dict__["_streams_client"] = client
        return client

    def stream_records(
        self: LocalCloud, stream_arn: str, shard_id: str, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Up to `limit` records of a shard after a sequence number (None: from the start),
        read from moto's shard in process (`localcloud.stream_reads`), else through a fresh
        iterator, so a replaced table is read where it now is."""
        direct = stream_reads.read(stream_arn, shard_id, after, limit)
        if direct is not None:
            return direct
        streams = self.streams_client()
        position: dict[str, Any] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
            if after
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, **position)
        records: list[dict[str, Any]] = streams.get_records(
            ShardIterator=iterator["ShardIterator"], Limit=limit
        )["Records"]
        return records

    def stream_shards(self: LocalCloud, stream_arn: str) -> list[str]:
        """A stream's shards, described once: moto's stream has one shard for its life (a
        table re-created has another stream ARN), so polls ask no DescribeStream."""
        known: dict[str, list[str]] = self.__dict__.setdefault("_stream_shards", {})
        if stream_arn not in known:
            desc = self.streams_client().describe_stream(StreamArn=stream_arn)
            shards = [shard["ShardId"] for shard in desc["StreamDescription"]["Shards"]]
            if not shards:
                return shards
            known[stream_arn] = shards
        return list(known[stream_arn])

    def _poll_streams(self: LocalCloud) -> bool:
        # Nothing was appended to any stream since a poll that found nothing: skip the calls.
        generation = stream_generation()
        if self.__dict__.get("_streams_idle_at") == generation:
            return False
        delivered = False
        shards: dict[str, list[str]] = {}
        for mapping in self.stream_mappings():
            if mapping.stream_arn not in shards:
                shards[mapping.stream_arn] = self.stream_shards(mapping.stream_arn)
            for shard_id in shards[mapping.stream_arn]:
                # This mapping read the shard empty and nothing was appended since: no calls.
                length = stream_length(mapping.stream_arn)
                if length is not None and mapping.read_empty_at.get(shard_id) == length:
                    continue
                raw = self.stream_records(
                    mapping.stream_arn,
                    shard_id,
                    mapping.checkpoints.get(shard_id),
                    mapping.batch_size,
                )
                if not raw:
                    if length is not None:
                        mapping.read_empty_at[shard_id] = length
                    continue
                # Filtered-out records are consumed too: Lambda checkpoints past them.
                mapping.checkpoints[shard_id] = raw[-1]["dynamodb"]["SequenceNumber"]
                records = [r for r in raw if mapping.matches(r)]
                for record in records:
                    record["eventSourceARN"] = mapping.stream_arn
                if records:
                    delivered = True
                    self._deliver_stream(mapping, shard_id, records)
                else:
                    delivered = True  # the checkpoint moved: poll again
        if not delivered:
            self.__dict__["_streams_idle_at"] = generation
        return delivered

    def _deliver_stream(
        self: LocalCloud, mapping: StreamMapping, shard_id: str, records: list[dict[str, Any]]
    ) -> None:
        # The timeline tells of each stored record once, however many functions read it.
        observed: set[tuple[str, str]] = self.__dict__.setdefault("_observed_records", set())
        for record in records:
            key = (mapping.stream_arn, record["dynamodb"]["SequenceNumber"])
            if key not in observed:
                observed.add(key)
                self._observe_activity(record)
        self._process_batch(mapping, shard_id, records, retries=0)

    def _process_batch(
        self: LocalCloud,
        mapping: StreamMapping,
        shard_id: str,
        batch: list[dict[str, Any]],
        retries: int,
    ) -> None:
        fn = self.functions[mapping.function]
        invocations = 0
        while True:
            invocations += 1
            mapping.delivered.update(r["dynamodb"]["SequenceNumber"] for r in batch)
            try:
                result = self.invoke(fn.logical_id, {"Records": _json_safe(batch)})
            except Exception as exc:  # noqa: BLE001 - Lambda retries the batch
                self.errors.append(f"{fn.logical_id}: {type(exc).__name__}: {exc}")
                if mapping.bisect and len(batch) > 1:
                    half = len(batch) // 2
                    self._process_batch(mapping, shard_id, batch[:half], retries)
                    self._process_batch(mapping, shard_id, batch[half:], retries)
                    return
                error: dict[str, Any] = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            else:
                failed = _failed_sequence(result, batch) if mapping.reports_item_failures else None
                if failed is None:
                    return
                # Lambda checkpoints at the lowest failed record and retries from there.
                batch = [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) >= failed]
                self.errors.append(
                    f"{fn.logical_id}: stream record {failed} reported failed "
                    f"({len(batch)} record(s) to retry)"
                )
                error = {}
            if retries >= mapping.max_retries:
                self._discard_batch(mapping, shard_id, batch, invocations, error)
                return
            retries += 1

    def _discard_batch(
        self: LocalCloud,
        mapping: StreamMapping,
        shard_id: str,
        batch: list[dict[str, Any]],
        invocations: int,
        error: dict[str, Any],
    ) -> None:
        fn = self.functions[mapping.function]
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        self.errors.append(
            f"{fn.logical_id}: gave up on {len(batch)} stream record(s) "
            f"{first['SequenceNumber']}..{last['SequenceNumber']} after retries"
        )
        if mapping.on_failure is None:
            return  # Lambda discards the batch and goes on
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": fn.arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled" if error else "",
            },
            "version": "1.0",
            "timestamp": _iso(self.clock.now()),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
                "batchSize": len(batch),
                "streamArn": mapping.stream_arn,
            },
        }
        self.send_to_destination(mapping.on_failure, record)

    def undelivered_records(self: LocalCloud) -> list[str]:
        """Stream records a mapping should have passed to its function but never did
        (what a silently stopped reader leaves behind)."""
        missing: list[str] = []
        for mapping in self.stream_mappings():
            for shard_id in self.stream_shards(mapping.stream_arn):
                after: str | None = None
                while True:
                    page = self.stream_records(mapping.stream_arn, shard_id, after, 1000)
                    if not page:
                        break
                    after = page[-1]["dynamodb"]["SequenceNumber"]
                    missing.extend(
                        f"{mapping.key}: {r['eventName']} {r['dynamodb']['SequenceNumber']} "
                        f"{json.dumps(r['dynamodb'].get('Keys'))}"
                        for r in page
                        if mapping.matches(r)
                        and r["dynamodb"]["SequenceNumber"] not in mapping.delivered
                    )
        return missing


def _failed_sequence(result: Any, batch: list[dict[str, Any]]) -> int | None:
    """The lowest failed sequence number of a partial batch response; the first record's
    for a response Lambda reads as a whole-batch failure (an empty or unknown identifier)."""
    failures = (result or {}).get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return None
    known = {r["dynamodb"]["SequenceNumber"] for r in batch}
    numbers = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in known:
            return int(batch[0]["dynamodb"]["SequenceNumber"])
        numbers.append(int(identifier))
    return min(numbers)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, (int, float)):
        from datetime import UTC

        return _iso(datetime.fromtimestamp(value, UTC))
    return str(value)


def matches_filters(record: dict[str, Any], props: dict[str, Any]) -> bool:
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
