"""The due index in the state table (nurture.runtime.due): `DUE#<bucket>` / `<contact id>`,
with `expires_at` (the table's TTL attribute) on activity markers."""

from __future__ import annotations

from typing import Any


class DynamoDue:
    def __init__(self, client: Any, table: str):
        self._db = client
        self._table = table

    def mark(
        self, bucket: str, contact_id: str, attrs: dict[str, str], expires_at: int | None
    ) -> None:
        item: dict[str, Any] = {
            "pk": {"S": f"DUE#{bucket}"},
            "sk": {"S": contact_id},
            **{name: {"S": value} for name, value in attrs.items()},
        }
        if expires_at is not None:
            item["expires_at"] = {"N": str(expires_at)}
        self._db.put_item(TableName=self._table, Item=item)

    def members(self, bucket: str) -> list[tuple[str, dict[str, str]]]:
        """Eventually consistent: an entry written in the last second can wait a day."""
        out: list[tuple[str, dict[str, str]]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"DUE#{bucket}"}},
        }
        while True:
            resp = self._db.query(**kwargs)
            for item in resp.get("Items", []):
                attrs = {k: v["S"] for k, v in item.items() if k not in ("pk", "sk") and "S" in v}
                out.append((item["sk"]["S"], attrs))
            if "LastEvaluatedKey" not in resp:
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def unmark(self, bucket: str, contact_id: str) -> None:
        self._db.delete_item(
            TableName=self._table,
            Key={"pk": {"S": f"DUE#{bucket}"}, "sk": {"S": contact_id}},
        )
