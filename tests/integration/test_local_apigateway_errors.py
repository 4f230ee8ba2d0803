"""The local HTTP API answers a failed function as API Gateway does (HTTP API, payload format
2.0): a 500 with `{"message":"Internal Server Error"}` and nothing of the error, CORS headers
included, instead of raising into the caller. The failure is still reported (the cloud's
errors, which the test audit reads, as the function's log would in AWS). An answer without a
`statusCode` is taken as a 200 with that JSON as its body, as API Gateway infers it; one with
a `statusCode` that is not an HTTP status is a 500 too."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.server import LocalApi

pytestmark = [pytest.mark.integration, pytest.mark.expect_function_errors]

TRACK = {"anonymousId": "v", "event": "Demo Requested", "messageId": "t-1"}
AWS_500 = {"message": "Internal Server Error"}


def test_a_crashed_function_is_a_500_with_api_gateways_body(cloud: LocalCloud) -> None:
    # the ingest function dies (Runtime.ExitError) on its first DynamoDB write
    cloud.faults.crash_after("dynamodb", function="IngestFunction", times=1)

    status, headers, answer = cloud.http(
        "POST", "/v1/track", TRACK, headers={"Origin": "https://example.com"}
    )

    assert (status, answer) == (500, AWS_500)
    cors = cloud.cors_for("https://example.com")  # what every answer of the API carries
    assert cors and cors.items() <= headers.items()
    [error] = cloud.errors
    assert error.startswith("IngestFunction: ") and "ExitError" in error
    # a retry, as the SDK makes after a 5xx, is stored once
    status, _, answer = cloud.http("POST", "/v1/track", TRACK)
    assert status == 200 and answer["success"] is True


def test_the_local_server_answers_the_same_over_http(cloud: LocalCloud) -> None:
    cloud.faults.crash_after("dynamodb", function="IngestFunction", times=1)
    api = LocalApi(cloud, port=0, log=lambda _: None).start()
    try:
        request = urllib.request.Request(
            f"{api.url}/v1/track",
            data=json.dumps(TRACK).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(b"local-write-key:").decode(),
            },
        )
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 - loopback
    finally:
        api.stop()
    assert failed.value.code == 500
    assert json.loads(failed.value.read()) == AWS_500
    assert failed.value.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"statusCode": "two hundred", "body": "x"}, (500, AWS_500)),
        ({"statusCode": 99, "body": "x"}, (500, AWS_500)),
        ({"statusCode": 200, "body": {"not": "a string"}}, (500, AWS_500)),
        ({"accepted": True}, (200, {"accepted": True})),  # no statusCode: inferred
        ("plain text", (200, "plain text")),
    ],
)
def test_answers_that_are_not_proxy_responses_are_read_as_api_gateway_reads_them(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, answer: Any, expected: tuple[int, Any]
) -> None:
    fn = cloud.function_by_name("IngestFunction")
    monkeypatch.setattr(fn, "handler", lambda event, context: answer)

    status, _, body = cloud.http("POST", "/v1/track", TRACK)

    assert (status, body) == expected
    assert len(cloud.errors) == (1 if expected[0] == 500 else 0)
