"""Form definitions in the content bucket (`forms/<id>.yaml`), for nurture.tracking.forms."""

from __future__ import annotations

from typing import Any

PREFIX = "forms/"


class S3Forms:
    """The FormSource port on S3: one ListObjectsV2 walk says which forms exist."""

    def __init__(self, client: Any, bucket: str):
        self._s3 = client
        self._bucket = bucket

    def form_ids(self) -> set[str]:
        ids: set[str] = set()
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=PREFIX
        ):
            for item in page.get("Contents", []):
                name = str(item["Key"])[len(PREFIX) :]
                if name.endswith(".yaml") and "/" not in name:
                    ids.add(name.removesuffix(".yaml"))
        return ids

    def form_text(self, form_id: str) -> str | None:
        try:
            obj = self._s3.get_object(Bucket=self._bucket, Key=f"{PREFIX}{form_id}.yaml")
        except self._s3.exceptions.NoSuchKey:
            return None
        body: bytes = obj["Body"].read()
        return body.decode("utf-8")
