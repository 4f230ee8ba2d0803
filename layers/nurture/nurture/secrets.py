"""Secrets from SSM Parameter Store (SecureString), read through powertools Parameters.

Each secret is the parameter `<SECRETS_PATH>/<name>` (SECRETS_PATH is set by template.yaml,
e.g. /nurture/my-stack). Values are cached for MAX_AGE_SECONDS, so a rotated secret takes
effect in every warm function within that time without a redeploy. The age is measured on
`nurture.clock`, so the local cloud's virtual time expires the cache like real time does.

Names: `write-keys` (JSON `{"<key>": "public" | "secret"}`), `link-signing-secrets`
(comma-separated: the first signs, all verify), `webhook-secrets` (JSON `{name: secret}`),
`identity-verification-secret`.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta
from typing import Any

from nurture import clock

MAX_AGE_SECONDS = 300
_fetched_at: dict[str, datetime] = {}


class SecretMissing(RuntimeError):
    """The parameter does not exist (or SECRETS_PATH is unset): a deployment step was missed."""


def parameter_name(name: str) -> str:
    path = os.environ.get("SECRETS_PATH", "").rstrip("/")
    if not path:
        raise SecretMissing(f"SECRETS_PATH is not set, so the secret {name!r} cannot be read")
    return f"{path}/{name}"


def secret(name: str) -> str:
    """The decrypted value of the secret `name`, at most MAX_AGE_SECONDS old."""
    full = parameter_name(name)
    now = clock.now()
    fetched = _fetched_at.get(full)
    expired = fetched is None or now - fetched >= timedelta(seconds=MAX_AGE_SECONDS)
    parameters = _powertools_parameters()
    try:
        value = parameters.get_parameter(
            full, decrypt=True, max_age=MAX_AGE_SECONDS, force_fetch=expired
        )
    except parameters.exceptions.GetParameterError as exc:
        raise SecretMissing(
            f"cannot read the secret {full!r}; create it with "
            f"`nurture secrets init` or `aws ssm put-parameter --type SecureString`: {exc}"
        ) from exc
    if expired:
        _fetched_at[full] = now
    return str(value)


def _powertools_parameters() -> Any:
    """powertools Parameters, imported on the first read (it imports boto3; a cold start
    that reads no secret does not pay for it), with X-Ray's botocore patch applied first."""
    from aws_lambda_powertools.utilities import parameters

    from nurture.adapters.clients import trace_aws

    trace_aws()
    return parameters


def secret_json(name: str) -> Any:
    """A secret whose value is JSON (e.g. `write-keys`, `webhook-secrets`)."""
    text = secret(name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SecretMissing(f"the secret {name!r} is not valid JSON") from exc


def secret_list(name: str) -> list[str]:
    """A comma-separated secret (e.g. `link-signing-secrets`), blanks dropped."""
    return [part.strip() for part in secret(name).split(",") if part.strip()]


def clear_cache() -> None:
    """Forget every cached value (a new local cloud, or a test that rotates by hand)."""
    _fetched_at.clear()
    if "aws_lambda_powertools.utilities.parameters" in sys.modules:  # else nothing cached
        _powertools_parameters().clear_caches()


WEBHOOK_SECRETS = "webhook-secrets"  # noqa: S105 - a parameter name
DEFAULT_WEBHOOK_SECRET = "default"  # noqa: S105 - an entry name, not a secret


def webhook_secret(name: str | None = None) -> str:
    """The secret that signs a webhook: `webhook-secrets` maps names to secrets, and a step
    without `secret: <name>` uses the entry "default". Empty when there is no such entry."""
    table = secret_json(WEBHOOK_SECRETS)
    if not isinstance(table, dict):
        raise SecretMissing(f"the secret {WEBHOOK_SECRETS!r} must be a JSON object name -> secret")
    return str(table.get(name or DEFAULT_WEBHOOK_SECRET) or "")
