"""`nurture secrets`: create and rotate a deployed stack's secrets in Parameter Store.

    nurture secrets init --stack nurture          # creates the ones missing, keeps the rest
    nurture secrets rotate link-signing-secrets --stack nurture
    nurture secrets list --stack nurture          # names and versions, never values

CloudFormation cannot create SecureString parameters, so a new stack's secrets are made here
(or by hand with `aws ssm put-parameter --type SecureString`). They live under
`<SecretsPath>/<stack>/` (the template's SecretsPath parameter, /nurture by default):
- `write-keys`: JSON {key: "public" | "secret"}; init makes one of each and prints them
  (the public key goes into the website's analytics snippet, the secret one to servers);
- `link-signing-secrets`: comma-separated; the first signs links, every one verifies them;
- `webhook-secrets`: JSON {name: secret}; "default" signs webhook steps without `secret:`;
- `identity-verification-secret`: signs the identity a site vouches for.
Rotating `link-signing-secrets` puts a new secret first and keeps the previous one so links
already sent still work; functions pick it up within nurture.secrets.MAX_AGE_SECONDS.
"""

from __future__ import annotations

import argparse
import json
import secrets as random
from collections.abc import Callable
from typing import Any

LINK_SECRETS = "link-signing-secrets"
KEEP_PREVIOUS_LINK_SECRETS = 1  # old links verify for one rotation; retire older ones


def _hex() -> str:
    return random.token_hex(32)


GENERATORS: dict[str, Callable[[], str]] = {
    "write-keys": lambda: json.dumps(
        {f"pk_{random.token_urlsafe(18)}": "public", f"sk_{random.token_urlsafe(24)}": "secret"}
    ),
    LINK_SECRETS: _hex,
    "webhook-secrets": lambda: json.dumps({"default": _hex()}),
    "identity-verification-secret": _hex,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["init", "rotate", "list"])
    parser.add_argument("name", nargs="?", help=f"what to rotate (only {LINK_SECRETS})")
    parser.add_argument("--stack", required=True, help="the stack name given to sam deploy")
    parser.add_argument("--path", default="/nurture", help="the template's SecretsPath")
    parser.add_argument("--region", help="default: your AWS configuration's region")
    parser.add_argument("--kms-key-id", help="a customer-managed KMS key (default: aws/ssm)")


def folder(path: str, stack: str) -> str:
    return f"{path.rstrip('/')}/{stack}"


def init(ssm: Any, base: str, kms_key_id: str | None = None) -> dict[str, str]:
    """Create every missing secret; return name -> "created" | "kept"."""
    done: dict[str, str] = {}
    for name, generate in GENERATORS.items():
        kwargs: dict[str, Any] = {
            "Name": f"{base}/{name}",
            "Value": generate(),
            "Type": "SecureString",
            "Overwrite": False,
            "Description": f"nurture secret {name} (see `nurture secrets`)",
        }
        if kms_key_id:
            kwargs["KeyId"] = kms_key_id
        try:
            ssm.put_parameter(**kwargs)
            done[name] = "created"
        except ssm.exceptions.ParameterAlreadyExists:
            done[name] = "kept"
    return done


def rotate_link_secrets(ssm: Any, base: str, kms_key_id: str | None = None) -> list[str]:
    """Put a new link-signing secret first, keep the previous one(s); return the new list."""
    name = f"{base}/{LINK_SECRETS}"
    current = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    previous = [s.strip() for s in current.split(",") if s.strip()]
    values = [_hex(), *previous[:KEEP_PREVIOUS_LINK_SECRETS]]
    kwargs: dict[str, Any] = {
        "Name": name,
        "Value": ",".join(values),
        "Type": "SecureString",
        "Overwrite": True,
    }
    if kms_key_id:
        kwargs["KeyId"] = kms_key_id
    ssm.put_parameter(**kwargs)
    return values


def run(args: argparse.Namespace) -> int:
    import boto3

    ssm = boto3.client("ssm", region_name=args.region) if args.region else boto3.client("ssm")
    base = folder(args.path, args.stack)
    if args.action == "init":
        for name, outcome in init(ssm, base, args.kms_key_id).items():
            print(f"{outcome:8} {base}/{name}")
        keys = json.loads(
            ssm.get_parameter(Name=f"{base}/write-keys", WithDecryption=True)["Parameter"]["Value"]
        )
        for key, kind in sorted(keys.items(), key=lambda item: item[1]):
            print(f"write key ({kind}): {key}")
        return 0
    if args.action == "rotate":
        if args.name != LINK_SECRETS:
            print(f"only {LINK_SECRETS} rotates here; put other secrets with aws ssm put-parameter")
            return 2
        values = rotate_link_secrets(ssm, base, args.kms_key_id)
        print(f"{base}/{LINK_SECRETS}: a new secret signs, {len(values) - 1} older one(s) verify")
        return 0
    for name in GENERATORS:
        try:
            meta = ssm.get_parameter(Name=f"{base}/{name}")["Parameter"]
            print(f"{base}/{name}  version {meta['Version']}  {meta['Type']}")
        except ssm.exceptions.ParameterNotFound:
            print(f"{base}/{name}  MISSING (run: nurture secrets init --stack {args.stack})")
    return 0
