"""The local server (what `make demo` serves) logs every request: method, path, status, the
wall-clock time it took and the virtual time it ended at; never a signed link's token."""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request

import pytest

from localcloud import LocalCloud
from localcloud.server import LocalApi

pytestmark = pytest.mark.integration

LINE = re.compile(
    r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d) ms wall "
    r"\(virtual (?P<virtual>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)$"
)


def request(url: str, method: str, body: dict[str, object] | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    # the local cloud's public write key, as a web page sends it
    auth = "Basic " + base64.b64encode(b"local-write-key:").decode()
    req = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "Authorization": auth},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_every_request_is_logged_with_method_path_status_and_time(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    lines: list[str] = []
    api = LocalApi(cloud, port=0, log=lines.append).start()
    try:
        signup = {"email": "ada@example.com", "consent_newsletter": "on"}
        answers = [
            request(f"{api.url}/v1/forms/newsletter-signup", "POST", signup),
            request(f"{api.url}/v1/track", "POST", {"anonymousId": "v"}),  # no event: 400
            request(f"{api.url}/_local/clock/advance?days=1", "POST"),
            request(f"{api.url}/u/secret-signed-token?x=1", "GET"),
            request(f"{api.url}/v1/nowhere", "GET"),
        ]
    finally:
        api.stop()

    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    seen = [(m["method"], m["path"], int(m["status"])) for m in parsed if m]
    assert seen == [
        ("POST", "/v1/forms/newsletter-signup", answers[0]),
        ("POST", "/v1/track", 400),
        ("POST", "/_local/clock/advance", 200),
        ("GET", "/u/<token>", answers[3]),
        ("GET", "/v1/nowhere", answers[4]),
    ]
    assert answers[0] == 202
    # the virtual clock moved a day during the advance request, and the log says so
    virtual = [m["virtual"] for m in parsed if m]
    assert virtual[1].startswith("2026-01-05") and virtual[2].startswith("2026-01-06")
    assert "secret-signed-token" not in "\n".join(lines)
