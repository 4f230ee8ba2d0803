"""The console's share of the template: a private bucket only its CloudFront distribution
reads (origin access control), HTTPS only with security headers, and a Cognito sign-in whose
role may call the admin API and nothing else. checkov runs over it in test_template_checks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from localcloud import console
from localcloud.template import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(load_template(ROOT / "template.yaml")["Resources"])


def _props(resources: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(resources[name]["Properties"])


def test_the_bucket_is_private_and_only_the_distribution_reads_it(
    resources: dict[str, Any],
) -> None:
    bucket = _props(resources, "ConsoleBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    [policy] = [
        r["Properties"]["PolicyDocument"]
        for r in resources.values()
        if r["Type"] == "AWS::S3::BucketPolicy"
        and r["Properties"]["Bucket"] == {"Ref": "ConsoleBucket"}
    ]
    deny, allow = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Effect"] == "Allow"
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"  # read only, objects only
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source.endswith(":distribution/${ConsoleDistribution}")


def test_the_distribution_is_https_only_through_origin_access_control(
    resources: dict[str, Any],
) -> None:
    config = _props(resources, "ConsoleDistribution")["DistributionConfig"]
    [origin] = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    oac = _props(resources, "ConsoleOriginAccessControl")["OriginAccessControlConfig"]
    assert oac["SigningBehavior"] == "always" and oac["SigningProtocol"] == "sigv4"
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "ConsoleHeaders"}
    assert config["DefaultRootObject"] == "index.html"


def _directives(csp: str) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in re.split(r";\s*", csp.strip()) if d}


def test_security_headers_match_what_the_local_cloud_sends(resources: dict[str, Any]) -> None:
    headers = _props(resources, "ConsoleHeaders")["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"
    ]
    assert all(h["Override"] is True for h in headers.values())
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    cloud = _directives(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"])
    local = _directives(console.SECURITY_HEADERS["Content-Security-Policy"])
    assert cloud.pop("connect-src").split()[0] == local.pop("connect-src") == "'self'"
    assert cloud == local  # no inline script or style anywhere: the console is tested under it
    assert "unsafe" not in json.dumps(cloud)


def test_the_signed_in_role_may_only_call_the_admin_api(resources: dict[str, Any]) -> None:
    role = _props(resources, "ConsoleUserRole")
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"]["StringEquals"] == {
        "cognito-identity.amazonaws.com:aud": {"Ref": "ConsoleIdentityPool"}
    }
    assert trust["Condition"]["ForAnyValue:StringLike"] == {
        "cognito-identity.amazonaws.com:amr": "authenticated"
    }
    [policy] = role["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke"
    assert statement["Resource"]["Fn::Sub"].endswith(":${AdminApi}/*/*/admin/*")
    pool = _props(resources, "ConsoleIdentityPool")
    assert pool["AllowUnauthenticatedIdentities"] is False and pool["AllowClassicFlow"] is False
    roles = _props(resources, "ConsoleIdentityPoolRoles")["Roles"]
    assert roles == {"authenticated": {"Fn::GetAtt": ["ConsoleUserRole", "Arn"]}}
    users = _props(resources, "ConsoleUserPool")
    assert users["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    client = _props(resources, "ConsoleUserPoolClient")
    assert client["GenerateSecret"] is False
    assert client["PreventUserExistenceErrors"] == "ENABLED"


def test_the_admin_api_lets_only_the_console_origin_call_it_from_a_browser(
    resources: dict[str, Any],
) -> None:
    cors = _props(resources, "AdminApi")["CorsConfiguration"]
    assert cors["AllowOrigins"] == [{"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}]
    assert {"authorization", "x-amz-date", "x-amz-security-token"} <= set(cors["AllowHeaders"])


def test_the_config_output_names_what_the_console_reads() -> None:
    outputs = load_template(ROOT / "template.yaml")["Outputs"]
    template = outputs["ConsoleConfig"]["Value"]["Fn::Sub"]
    config = json.loads(re.sub(r"\$\{[^}]+\}", "x", template))
    auth = (ROOT / "console/src/auth.js").read_text() + (ROOT / "console/src/api.js").read_text()
    for key in config:
        assert f"config.{key}" in auth, key
    assert config["mode"] == "cognito"
    assert set(console.config()) == {"mode", "region", "apiUrl"}
