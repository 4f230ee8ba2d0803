"""DynamoDB Streams as AWS writes them: no record for a write that changes nothing.

AWS: "If you perform a PutItem or UpdateItem operation that does not change any data in an
item, DynamoDB Streams does not write a stream record for that operation." moto appends a
MODIFY record for every write. The ingest path relies on AWS's behaviour (a copy of a stored
message puts the same item again, and nothing downstream may hear of it), so the local
cloud does the same: a write whose new image equals the old one appends no record.
"""

from __future__ import annotations

from typing import Any


def install_unchanged_write_fix() -> None:
    from moto.dynamodb.models.table import StreamShard

    if getattr(StreamShard, "_nurture_unchanged_writes", False):
        return
    original = StreamShard.add

    def add(self: Any, old: Any, new: Any) -> None:
        if old is not None and new is not None and old == new:
            return  # moto's Item equality: the same keys and attribute values
        original(self, old, new)

    StreamShard.add = add  # type: ignore[method-assign]
    StreamShard._nurture_unchanged_writes = True  # type: ignore[attr-defined]
