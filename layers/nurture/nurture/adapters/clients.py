"""boto3 clients made on first use, and X-Ray's botocore patch applied then.

A handler's top level runs at every cold start, before the first event is served. Importing
boto3 and building a client (botocore loads and indexes the service's model) there cost
each function 1-3x `import boto3` more; a handler therefore holds `LazyClient`s, which import
boto3 and build the client when first used (most invocations use one or two of the clients a
handler wires: a react batch rarely sends an email, an ingest call never touches S3 unless it
is a form).

Tracing stays as deployed (template.yaml `Tracing: Active`, powertools' Tracer): handlers
make their Tracer with `auto_patch=False`, because its default patches at construction,
which imports botocore; `trace_aws()` applies the same patch (X-Ray subsegments for every
AWS call) before the first client is made, and `nurture.secrets` calls it before its first
Parameter Store read. Powertools' `patch_all` in this layer patches botocore and sqlite3;
nothing here uses sqlite3, so only botocore is patched.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

# What Tracer's patching covers here: every AWS call's subsegment.
TRACED_MODULES = ("botocore",)

_lock = threading.RLock()
_traced = False


def trace_aws() -> None:
    """Patch botocore for X-Ray once, before the first AWS call (a no-op when tracing is
    off: POWERTOOLS_TRACE_DISABLED, or not in Lambda)."""
    global _traced
    if _traced:
        return
    with _lock:
        if not _traced:
            from aws_lambda_powertools import Tracer

            Tracer(auto_patch=False).patch(TRACED_MODULES)
            _traced = True


class LazyClient:
    """A boto3 client for `service`, made the first time one of its attributes is read.

    `config` holds botocore `Config` arguments (made with the client: botocore.config is
    not imported before). The client comes from the default session current when the
    LazyClient was made if boto3 was already imported then (the local cloud makes one
    session per cloud), else from boto3's default session at first use (Lambda)."""

    def __init__(self, service: str, **config: Any):
        self._service = service
        self._config = config
        self._client: Any = None
        boto3 = sys.modules.get("boto3")
        self._session = getattr(boto3, "DEFAULT_SESSION", None) if boto3 else None

    @property
    def made(self) -> bool:
        return self._client is not None

    def client(self) -> Any:
        if self._client is None:
            with _lock:
                if self._client is None:
                    trace_aws()
                    self._client = self._make()
        return self._client

    def _make(self) -> Any:
        import boto3

        kwargs: dict[str, Any] = {}
        if self._config:
            from botocore.config import Config

            kwargs["config"] = Config(**self._config)
        if self._session is not None:
            return self._session.client(self._service, **kwargs)
        return boto3.client(self._service, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_service", "_config", "_client", "_session"):
            raise AttributeError(name)  # copy/pickle probes, and before __init__ ran
        return getattr(self.client(), name)

    def __repr__(self) -> str:
        return f"LazyClient({self._service!r}, made={self.made})"


def client(service: str, **config: Any) -> LazyClient:
    """A client for `service` made on first use; `config`: botocore Config arguments."""
    return LazyClient(service, **config)
