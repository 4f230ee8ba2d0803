"""Deployed scoring models in the StateTable: one partition (`SCORING`), one item per model,
so the react function reads every model with one Query per stream batch."""

from __future__ import annotations

import json
from typing import Any

_PK = {"S": "SCORING"}


class DynamoScoringModels:
    def __init__(self, client: Any, table: str):
        self._db = client
        self._table = table

    def live_models(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _PK},
        }
        while True:
            page = self._db.query(**kwargs)
            found.extend(
                json.loads(i["doc"]["S"]) for i in page["Items"] if i["status"]["S"] == "live"
            )
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_model(self, model_id: str) -> dict[str, Any] | None:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": _PK, "sk": {"S": f"MODEL#{model_id}"}},
            ConsistentRead=True,
        ).get("Item")
        return json.loads(item["doc"]["S"]) if item else None

    def put_model(self, model_id: str, status: str, definition: dict[str, Any]) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": _PK,
                "sk": {"S": f"MODEL#{model_id}"},
                "status": {"S": status},
                "doc": {"S": json.dumps(definition, sort_keys=True)},
            },
        )
