"""DynamoDB tables on moto for adapter tests, keyed as the stack's are (template.yaml): a
string partition key `pk` and sort key `sk`, billed per request."""

from __future__ import annotations

from typing import Any


def key_tables(client: Any, *names: str, **extra: Any) -> None:
    """`extra`: more CreateTable parameters (a StreamSpecification...)."""
    for name in names:
        client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            **extra,
        )
