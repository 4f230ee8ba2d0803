"""The activity lake on S3 (the content bucket's `lake/` prefix)."""

from __future__ import annotations

from typing import Any


class S3Lake:
    def __init__(self, client: Any, bucket: str):
        self._s3 = client
        self._bucket = bucket

    def put(self, key: str, body: bytes) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType="application/gzip",  # gzip NDJSON; Athena reads .gz by its extension
        )

    def get(self, key: str) -> bytes:
        body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        ):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return keys
