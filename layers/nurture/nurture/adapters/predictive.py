"""Predictive scoring on AWS: model versions in the content bucket, scores on contacts."""

from __future__ import annotations

from typing import Any


class S3ModelStore:
    """nurture.predictive.registry.ModelStore on the content bucket."""

    def __init__(self, client: Any, bucket: str):
        self._s3 = client
        self._bucket = bucket

    def get(self, key: str) -> bytes | None:
        try:
            body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None
        return body

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        ):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return keys
