"""The console's AWS sign-in in headless Chromium: a Cognito user pool login traded at the
identity pool for temporary credentials, which then sign the admin API requests (SigV4 with
the session token). Cognito is moto's (a moto server); the browser's requests to the
regional Cognito endpoints are routed to it, and the page runs under the Content-Security-
Policy the template's ConsoleHeaders sends (so the policy lets exactly these calls through).
The admin API request is answered 403 after its signature is checked against the temporary
secret: the local IAM authoriser knows only the local credentials."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer
from playwright.sync_api import Route, sync_playwright

from localcloud import console
from localcloud.template import load_template

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REGION = "us-east-1"
API = f"https://a1b2c3d4e5.execute-api.{REGION}.amazonaws.com"
USER, PASSWORD = "marketer@example.com", "Correct-horse-battery-9!"


def _template_csp() -> str:
    headers = load_template(ROOT / "template.yaml")["Resources"]["ConsoleHeaders"]
    csp: str = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"][
        "ContentSecurityPolicy"
    ]["ContentSecurityPolicy"]["Fn::Sub"]
    return csp.replace("${AWS::Region}", REGION).replace("${AWS::URLSuffix}", "amazonaws.com")


@pytest.fixture
def cognito() -> Iterator[dict[str, str]]:
    """A user pool with one user, an app client and an identity pool, on a moto server."""
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    kwargs: dict[str, Any] = {
        "endpoint_url": url,
        "region_name": REGION,
        "aws_access_key_id": "admin",
        "aws_secret_access_key": "admin",
    }
    idp = boto3.client("cognito-idp", **kwargs)
    pool = idp.create_user_pool(PoolName="console")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool,
        ClientName="console",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username=USER)
    idp.admin_set_user_password(UserPoolId=pool, Username=USER, Password=PASSWORD, Permanent=True)
    identity = boto3.client("cognito-identity", **kwargs).create_identity_pool(
        IdentityPoolName="console",
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[
            {"ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool}", "ClientId": client}
        ],
    )["IdentityPoolId"]
    try:
        yield {
            "moto": url,
            "config": json.dumps(
                {
                    "mode": "cognito",
                    "region": REGION,
                    "apiUrl": API,
                    "userPoolId": pool,
                    "clientId": client,
                    "identityPoolId": identity,
                }
            ),
        }
    finally:
        server.stop()


@pytest.fixture
def site() -> Iterator[str]:
    """console/dist/ as CloudFront serves it: the template's CSP on every answer."""
    if not (console.DIST / "index.html").exists():
        pytest.fail("the console is not built: `make test` builds console/")
    csp = _template_csp()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            status, headers, body = console.serve("GET", self.path)
            self.send_response(status)
            for key, value in {**headers, "Content-Security-Policy": csp}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
}


def test_a_cognito_user_signs_in_and_the_console_signs_with_temporary_credentials(
    cognito: dict[str, str], site: str
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    cognito_calls: list[str] = []
    api_requests: list[dict[str, Any]] = []

    def to_moto(route: Route) -> None:
        request = route.request
        if request.method == "OPTIONS":
            route.fulfill(status=200, headers=CORS)
            return
        cognito_calls.append(request.headers.get("x-amz-target", ""))
        answer = route.fetch(url=cognito["moto"] + "/")
        route.fulfill(response=answer, headers={**answer.headers, **CORS})

    def admin_api(route: Route) -> None:
        request = route.request
        if request.method == "OPTIONS":
            route.fulfill(status=204, headers=CORS)
            return
        api_requests.append(
            {"method": request.method, "url": request.url, "headers": request.headers}
        )
        route.fulfill(status=403, headers=CORS, json={"message": "Forbidden"})

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            blocked: list[str] = []
            page.on(
                "console",
                lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.route(
                "**/console/config.json",
                lambda r: r.fulfill(content_type="application/json", body=cognito["config"]),
            )
            page.route(f"https://cognito-idp.{REGION}.amazonaws.com/**", to_moto)
            page.route(f"https://cognito-identity.{REGION}.amazonaws.com/**", to_moto)
            page.route(f"{API}/**", admin_api)
            page.goto(f"{site}/console/")
            page.wait_for_selector("main[data-ready=true] h1")
            assert page.inner_text("label[for]:has-text('User name')")

            # a wrong password: Cognito refuses, the page says so and holds no credentials
            page.fill("input[name=username]", USER)
            page.fill("input[name=password]", "wrong-password-1A!")
            page.click("form.sign-in button[type=submit]")
            page.wait_for_selector("main [role=alert]")
            assert page.evaluate("sessionStorage.length") == 0

            page.fill("input[name=password]", PASSWORD)
            with page.expect_request(lambda r: r.url.startswith(API) and r.method == "GET"):
                page.click("form.sign-in button[type=submit]")
            page.wait_for_selector("main[data-ready=true] [role=alert]:has-text('refused')")
            stored = page.evaluate("Object.values(sessionStorage)")
        finally:
            browser.close()

    assert blocked == []  # the template's CSP let the Cognito and API calls through
    assert cognito_calls[:1] == ["AWSCognitoIdentityProviderService.InitiateAuth"]
    assert "AWSCognitoIdentityService.GetId" in cognito_calls
    assert "AWSCognitoIdentityService.GetCredentialsForIdentity" in cognito_calls
    [request] = api_requests
    assert urlsplit(request["url"]).path == "/admin/programs"
    headers = request["headers"]
    # signed with the identity pool's temporary credentials, session token included
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert f"/{REGION}/execute-api/aws4_request" in headers["authorization"]
    assert headers["x-amz-security-token"]
    # the refusal signed the tab out: the temporary credentials are no longer kept
    assert stored == []
    _check_signature(request, cognito)


def _check_signature(request: dict[str, Any], cognito: dict[str, str]) -> None:
    """Recompute the SigV4 signature (botocore) with the secret moto issued for that key."""
    headers = request["headers"]
    key = headers["authorization"].split("Credential=")[1].split("/")[0]
    secret = _moto_secret(cognito, key)
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    url = urlsplit(request["url"])
    aws = AWSRequest(
        method=request["method"],
        url=request["url"],
        headers={h: (url.netloc if h == "host" else headers[h]) for h in signed},
    )
    aws.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(
        Credentials(key, secret, headers["x-amz-security-token"]), "execute-api", REGION
    )
    expected = auth.signature(auth.string_to_sign(aws, auth.canonical_request(aws)), aws)
    assert headers["authorization"].endswith(f"Signature={expected}")


def _moto_secret(cognito: dict[str, str], key: str) -> str:
    """moto answers GetCredentialsForIdentity with fixed secrets per identity; ask it again."""
    kwargs: dict[str, Any] = {
        "endpoint_url": cognito["moto"],
        "region_name": REGION,
        "aws_access_key_id": "admin",
        "aws_secret_access_key": "admin",
    }
    config = json.loads(cognito["config"])
    idp = boto3.client("cognito-idp", **kwargs)
    token = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=config["clientId"],
        AuthParameters={"USERNAME": USER, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["IdToken"]
    identity = boto3.client("cognito-identity", **kwargs)
    logins = {f"cognito-idp.{REGION}.amazonaws.com/{config['userPoolId']}": token}
    found = identity.get_id(IdentityPoolId=config["identityPoolId"], Logins=logins)
    creds = identity.get_credentials_for_identity(IdentityId=found["IdentityId"], Logins=logins)
    assert creds["Credentials"]["AccessKeyId"] == key
    return str(creds["Credentials"]["SecretKey"])
