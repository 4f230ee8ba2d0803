"""The HTTP APIs' IAM authoriser (`Auth: {DefaultAuthorizer: AWS_IAM}`), locally.

API Gateway accepts a request to an IAM-authorised route only when it is SigV4-signed
(service `execute-api`) by credentials allowed to call it. Locally the only credentials are
the local cloud's (access key `local`, secret `local`): a request is let through when its
`Authorization: AWS4-HMAC-SHA256 ...` signature, recomputed with botocore over the headers it
says it signed, matches. Anything else - no signature, the public write key, another key,
a wrong secret, a body changed after signing - is 403 {"message": "Forbidden"}, as API
Gateway answers. The request time is not checked against the virtual clock (the signer uses
the real one)."""

from __future__ import annotations

import hmac
import re
from typing import TYPE_CHECKING, Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud, _Function

from localcloud.constants import ACCOUNT, REGION

LOCAL_ACCESS_KEY = "local"
LOCAL_SECRET_KEY = "local"  # noqa: S105 - the local cloud's fixed, public test credentials
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[^,]+), ?Signature=(?P<sig>[0-9a-f]{64})$"
)


def iam_protected(cloud: LocalCloud, fn: _Function, route_key: str) -> bool:
    """Whether the route belongs to an HTTP API whose default authoriser is AWS_IAM."""
    method, path = route_key.split(" ", 1)
    resources = cloud.template["Resources"]
    for ev in fn.events.values():
        props = ev.get("Properties", {})
        if ev["Type"] != "HttpApi" or props.get("Path") != path:
            continue
        if props.get("Method", "").upper() not in (method, "ANY"):
            continue
        api = str(props.get("ApiId", ""))
        for logical, res in resources.items():
            if (
                res["Type"] == "AWS::Serverless::HttpApi"
                and cloud.resolver.refs.get(logical) == api
            ):
                auth = res.get("Properties", {}).get("Auth", {})
                route_auth = props.get("Auth", {}).get("Authorizer")
                if route_auth == "NONE":
                    return False
                return bool(auth.get("DefaultAuthorizer") == "AWS_IAM" or route_auth == "AWS_IAM")
    return False


def verify(method: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, Any] | None:
    """The caller's IAM identity when the request is signed with the local credentials."""
    match = _AUTH.match(headers.get("authorization", ""))
    if not match or match["key"] != LOCAL_ACCESS_KEY or match["service"] != "execute-api":
        return None
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(match["date"]):
        return None
    signed = match["signed"].split(";")
    if any(h not in headers for h in signed if h != "host"):
        return None
    request = AWSRequest(
        method=method, url=url, data=body, headers={h: headers[h] for h in signed if h in headers}
    )
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(
        Credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, headers.get("x-amz-security-token")),
        "execute-api",
        match["region"],
    )
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["sig"]):
        return None
    return {
        "accessKey": LOCAL_ACCESS_KEY,
        "accountId": ACCOUNT,
        "callerId": LOCAL_ACCESS_KEY,
        "userArn": f"arn:aws:iam::{ACCOUNT}:user/local",
        "userId": LOCAL_ACCESS_KEY,
    }


def sign(
    method: str,
    url: str,
    body: bytes = b"",
    secret: str = LOCAL_SECRET_KEY,
    access_key: str = LOCAL_ACCESS_KEY,
) -> dict[str, str]:
    """Headers of a SigV4-signed request (what an AWS SDK or `awscurl` would send)."""
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(access_key, secret), "execute-api", REGION).add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()} | {
        "host": request.url.split("/")[2] if "://" in request.url else "localhost"
    }
