"""Secrets come from SSM Parameter Store (SecureString) through nurture.secrets, never from
the functions' environment, and a rotation takes effect without a redeploy: new links are
signed with the newest secret, links signed before still work."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from localcloud import LocalCloud
from localcloud.cloud import LOCAL_SECRETS
from nurture import secrets
from nurture.delivery.tokens import UNSUBSCRIBE, InvalidToken, verify
from tests.integration.delivery_helpers import path_of
from tests.integration.signup import marketing, sign_up

pytestmark = pytest.mark.integration

OLD = LOCAL_SECRETS["link-signing-secrets"]
NEW = "rotated-link-signing-secret-0123456789abcdef"


def _token(url: str) -> str:
    return path_of(url).removeprefix("/u/")


def test_the_secrets_are_secure_strings_under_the_stacks_path(live: LocalCloud) -> None:
    ssm = live.client("ssm")
    for name, value in LOCAL_SECRETS.items():
        stored = ssm.get_parameter(Name=f"/nurture/{live.stack}/{name}", WithDecryption=True)
        assert stored["Parameter"]["Type"] == "SecureString"
        assert stored["Parameter"]["Value"] == value
    # no function carries a secret in its environment
    values = [LOCAL_SECRETS["link-signing-secrets"], LOCAL_SECRETS["identity-verification-secret"]]
    values += json.loads(LOCAL_SECRETS["webhook-secrets"]).values()
    values += json.loads(LOCAL_SECRETS["write-keys"]).keys()
    for function in live.functions.values():
        assert function.env["SECRETS_PATH"] == f"/nurture/{live.stack}"
        for value in values:
            assert value not in function.env.values(), function.logical_id


def test_after_a_rotation_new_links_use_the_newest_secret_and_old_links_still_work(
    live: LocalCloud,
) -> None:
    # Given Ada signed up, confirmed, and got welcome-1, its unsubscribe link signed with the
    # first secret
    sign_up(live, {"email": "ada@example.com", "consent_newsletter": "on"})
    [welcome_1] = marketing(live)
    old_link = welcome_1.headers["List-Unsubscribe"].strip("<>")
    now = int(live.clock.now().timestamp())
    assert verify([OLD], _token(old_link), UNSUBSCRIBE, now)

    # When the operator puts a new secret first and keeps the old one to verify
    live.put_secret("link-signing-secrets", f"{NEW},{OLD}")
    # ... and welcome-2b goes out 3 days later (long after the secrets cache expired)
    live.advance(timedelta(days=3, minutes=1))

    # Then its link is signed with the new secret, not the old one
    [_, welcome_2] = marketing(live)
    new_link = welcome_2.headers["List-Unsubscribe"].strip("<>")
    now = int(live.clock.now().timestamp())
    assert verify([NEW], _token(new_link), UNSUBSCRIBE, now)
    with pytest.raises(InvalidToken):
        verify([OLD], _token(new_link), UNSUBSCRIBE, now)
    # and the preference page accepts both links
    for link in (old_link, new_link):
        status, _, page = live.http("GET", path_of(link), write_key=None)
        assert status == 200, page

    # Once the old secret is retired, its links stop working
    live.put_secret("link-signing-secrets", NEW)
    live.advance(timedelta(seconds=secrets.MAX_AGE_SECONDS))
    status, _, _ = live.http("GET", path_of(old_link), write_key=None)
    assert status == 403
    status, _, _ = live.http("GET", path_of(new_link), write_key=None)
    assert status == 200
    assert live.errors == []


def test_a_rotation_is_not_seen_before_the_cache_expires(
    live: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cache bounds the Parameter Store calls a warm function makes; its age is measured
    # on the (virtual) clock, so a rotation shows after MAX_AGE_SECONDS and not before.
    monkeypatch.setenv("SECRETS_PATH", f"/nurture/{live.stack}")
    assert secrets.parameter_name("link-signing-secrets") == (
        f"/nurture/{live.stack}/link-signing-secrets"
    )
    assert secrets.secret_list("link-signing-secrets") == [OLD]
    live.put_secret("link-signing-secrets", f"{NEW},{OLD}")
    live.advance(timedelta(seconds=secrets.MAX_AGE_SECONDS - 10))
    assert secrets.secret_list("link-signing-secrets") == [OLD]
    live.advance(timedelta(seconds=10))
    assert secrets.secret_list("link-signing-secrets") == [NEW, OLD]


def test_a_missing_secret_names_what_to_create(
    live: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETS_PATH", "/nurture/elsewhere")
    with pytest.raises(secrets.SecretMissing, match="/nurture/elsewhere/webhook-secrets"):
        secrets.webhook_secret("crm")
