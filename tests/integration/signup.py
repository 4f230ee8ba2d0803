"""Signing up through a public form as a person does: the post, then the double opt-in.

Every public form shipped with Nurture has double opt-in, so a sign-up alone grants no
consent and starts no marketing: the form's confirmation email goes out, and the person
opens its link and presses the button. `sign_up` does both; `confirm` does the second part
for a form posted another way (a browser, the SDK, a `Person`)."""

from __future__ import annotations

import re
from typing import Any

from localcloud import LocalCloud
from localcloud.capture import CapturedEmail

PUBLIC_KEY = "local-write-key"
FORM_POST = {"Content-Type": "application/x-www-form-urlencoded"}
_CONFIRM_PATH = re.compile(r"https?://[^/\s]+(/c/[\w.-]+)")


def sign_up(
    cloud: LocalCloud,
    body: dict[str, Any],
    form: str = "newsletter-signup",
    write_key: str | None = PUBLIC_KEY,
    confirm_it: bool = True,
) -> Any:
    """Post `body` to the form; then, with `confirm_it`, follow the confirmation email the
    post sent (if it sent one: a consent already granted is not asked again). Returns the
    API's answer to the post."""
    sent = len(cloud.outbox)
    status, _, answer = cloud.http("POST", f"/v1/forms/{form}", body, write_key=write_key)
    assert status == 202, f"{form}: {status} {answer}"
    if confirm_it:  # in the browser that posted it, if it said which
        browser = body.get("anonymousId") if isinstance(body, dict) else None
        confirm(cloud, since=sent, browser=browser)
    return answer


def confirmations(cloud: LocalCloud, since: int = 0, to: str | None = None) -> list[CapturedEmail]:
    """The double opt-in emails sent since outbox index `since` (to `to`, if given)."""
    return [
        e
        for e in cloud.outbox[since:]
        if e.tags.get("kind") == "double_opt_in" and (to is None or e.to == [to])
    ]


def confirm(
    cloud: LocalCloud, since: int = 0, to: str | None = None, browser: str | None = None
) -> list[CapturedEmail]:
    """Follow each confirmation email sent since `since` as its reader does: open the link
    (a page with a button; the GET changes nothing), then press the button (a POST).
    `browser`: the anonymous id of the reader's browser, whose analytics.js cookie the link
    receives (the API on the site's domain), so the confirmation proves that browser."""
    followed = confirmations(cloud, since, to)
    cookie = {"Cookie": f"ajs_anonymous_id={browser}"} if browser else {}
    for email in followed:
        [path] = _CONFIRM_PATH.findall(email.text)
        status, _, page = cloud.http("GET", path, write_key=None)
        assert status == 200 and "<form" in page, f"opening {path}: {status}"
        headers = {**FORM_POST, **cookie}
        status, _, _ = cloud.http("POST", path, "", headers=headers, write_key=None)
        assert status == 200, f"confirming {path}: {status}"
    return followed


def marketing(cloud: LocalCloud) -> list[CapturedEmail]:
    """The outbox without the double opt-in confirmations (what programs sent)."""
    return [e for e in cloud.outbox if e.tags.get("kind") != "double_opt_in"]
