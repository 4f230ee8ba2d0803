"""Secrets live in Parameter Store, not in template parameters or environment variables, and
each function may read only the ones it uses; `nurture secrets` creates and rotates them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.template import load_template
from localcloud.commands import secrets as command
from nurture import secrets

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PARAMETER_ARN = re.compile(
    r"^arn:\$\{AWS::Partition\}:ssm:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
    r"parameter\$\{SecretsPath\}/\$\{AWS::StackName\}/([a-z-]+)$"
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: res["Properties"]
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }


def _statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in props.get("Policies", []) for s in policy.get("Statement", [])]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def readable_secrets(props: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for statement in _statements(props):
        if not any(a.startswith("ssm:") for a in _actions(statement)):
            continue
        assert _actions(statement) == ["ssm:GetParameter"], "read one parameter at a time"
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            match = PARAMETER_ARN.match(resource["Fn::Sub"])
            assert match, f"not one of the stack's secrets: {resource}"
            names.add(match.group(1))
    return names


def test_no_secret_is_a_template_parameter_or_an_environment_variable(
    template: dict[str, Any],
) -> None:
    echoless = {n for n, p in template["Parameters"].items() if p.get("NoEcho")}
    assert not echoless, "secrets go to Parameter Store (nurture secrets init), not parameters"
    envs = [template["Globals"]["Function"]["Environment"]["Variables"]] + [
        p.get("Environment", {}).get("Variables", {}) for p in _functions(template).values()
    ]
    for env in envs:
        for name in env:
            if name == "SECRETS_PATH":
                continue
            assert not re.search(r"SECRET|PASSWORD|TOKEN|_KEYS?$", name), name
    assert template["Globals"]["Function"]["Environment"]["Variables"]["SECRETS_PATH"] == {
        "Fn::Sub": "${SecretsPath}/${AWS::StackName}"
    }


def test_each_function_reads_only_the_secrets_its_code_uses(template: dict[str, Any]) -> None:
    for name, props in _functions(template).items():
        code = (ROOT / props["CodeUri"] / "app.py").read_text()
        granted = readable_secrets(props)
        sales_desk = "desk_from_env(" in code  # sends signed links, pushes to the CRM
        if "load_policy(" in code or sales_desk:  # signs or verifies links
            assert "link-signing-secrets" in granted, name
        if name == "StepsFunction" or sales_desk or "webhook_secret(" in code:
            assert "webhook-secrets" in granted, name
        if "WRITE_KEYS" in code:
            assert "write-keys" in granted, name
        if not granted:
            continue
        # SecureStrings decrypt through SSM only: no direct use of the key
        [decrypt] = [s for s in _statements(props) if "kms:Decrypt" in _actions(s)]
        assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == {
            "Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"
        }, name
    assert readable_secrets(_functions(template)["IngestFunction"]) >= {"write-keys"}
    assert "write-keys" not in readable_secrets(_functions(template)["StepsFunction"])


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Any:
    from moto import mock_aws

    for var, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(var, value)
    with mock_aws():
        import boto3

        secrets.clear_cache()
        yield boto3.client("ssm", region_name="eu-west-1")
    secrets.clear_cache()


def test_init_creates_every_secret_once_and_rotation_keeps_the_previous_link_secret(
    ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = command.folder("/nurture/", "shop")
    assert base == "/nurture/shop"
    assert set(command.init(ssm, base).values()) == {"created"}
    stored = {
        p["Name"]: p
        for p in ssm.get_parameters_by_path(Path=base, WithDecryption=True)["Parameters"]
    }
    names = [
        "write-keys",
        "link-signing-secrets",
        "webhook-secrets",
        "identity-verification-secret",
    ]
    assert set(stored) == {f"{base}/{n}" for n in names}
    assert {p["Type"] for p in stored.values()} == {"SecureString"}
    kinds = json.loads(stored[f"{base}/write-keys"]["Value"])
    assert sorted(kinds.values()) == ["public", "secret"]
    first = stored[f"{base}/link-signing-secrets"]["Value"]
    assert len(first) == 64

    # a second run keeps what exists (it never overwrites a secret in use)
    assert set(command.init(ssm, base).values()) == {"kept"}

    # the functions read them through nurture.secrets
    monkeypatch.setenv("SECRETS_PATH", base)
    assert secrets.secret_list("link-signing-secrets") == [first]
    assert secrets.secret_json("write-keys") == kinds
    assert len(secrets.webhook_secret()) == 64
    assert secrets.webhook_secret("crm") == ""

    # rotation: a new secret signs, the previous one still verifies, older ones retire
    second = command.rotate_link_secrets(ssm, base)
    assert second[1:] == [first] and second[0] != first
    third = command.rotate_link_secrets(ssm, base)
    assert third[1:] == [second[0]]
    secrets.clear_cache()
    assert secrets.secret_list("link-signing-secrets") == third


def test_a_secret_that_was_never_created_says_how_to_create_it(
    ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETS_PATH", "/nurture/shop")
    with pytest.raises(secrets.SecretMissing, match="nurture secrets init"):
        secrets.secret("link-signing-secrets")
    monkeypatch.delenv("SECRETS_PATH")
    with pytest.raises(secrets.SecretMissing, match="SECRETS_PATH"):
        secrets.secret("link-signing-secrets")
