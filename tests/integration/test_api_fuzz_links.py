"""Property-based tests (Hypothesis) of the signed links and the form endpoint, through the
local cloud's HTTP API.

Signed links (preference page, double opt-in confirmation, a salesperson's answers and
tasks, click tokens on the site's pages): tokens are made by the real signer with the real
secret or another one, for any purpose, contact, expiry (around now, to the second) and
scope, then left alone or tampered with. Whatever arrives, the answer is never 5xx; a link
is honoured only when its signature, purpose and expiry are right; a refused one stores
nothing; a click token joins a visit to its contact only when it is valid.

Forms: any field values (unicode, lone surrogates, 5,000-digit integers, nested JSON,
addresses with CRLF or several recipients) for each real form, as JSON or url-encoded: never
5xx; a 202 stored exactly the submission it names; a 400 names each field and its reason and
stored nothing. Derandomized: CI sends the same requests every run."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import pytest
import yaml
from fuzz_support import PUBLIC_KEY, SECRET_KEY, StoreWatch
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from localcloud import LocalCloud
from localcloud.cloud import LOCAL_SECRETS
from nurture import clock
from nurture.delivery.clicks import CLICK_PARAM
from nurture.delivery.tokens import (
    CLICK,
    CONFIRM,
    PURPOSES,
    SALES_ANSWER,
    SALES_TASKS,
    UNSUBSCRIBE,
    LinkToken,
    sign,
)

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

REAL_SECRET = LOCAL_SECRETS["link-signing-secrets"]
OTHER_SECRET = "not-the-stacks-link-signing-secret"  # noqa: S105 - a forger's
ROUTES = {  # route -> the purpose its tokens must have
    "/u/": UNSUBSCRIBE,
    "/c/": CONFIRM,
    "/sales/": SALES_ANSWER,
    "/sales/tasks/": SALES_TASKS,
}
FORMS = {
    p.stem: yaml.safe_load(p.read_text())
    for p in sorted((Path(__file__).parents[2] / "forms").glob("*.yaml"))
}


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )


def _contact(cloud: LocalCloud, tables: Tables, email: str) -> str:
    """A known contact, made as the site's backend makes one."""
    status, _, _ = cloud.http(
        "POST",
        "/v1/identify",
        {"userId": email, "traits": {"email": email}},
        write_key=SECRET_KEY,
    )
    assert status == 200
    return tables.contact_by_email(email).contact_id


@st.composite
def tokens(draw: st.DrawFn, contact_ids: list[str], purpose: str) -> tuple[str, bool, LinkToken]:
    """(token text, whether it is intact and signed with the stack's secret, its content);
    mostly for `purpose`, else for any."""
    now = int(clock.now().timestamp())
    token = LinkToken(
        contact_id=draw(st.sampled_from(contact_ids) | st.text(max_size=40), label="contact"),
        purpose=draw(st.sampled_from([purpose] * 3 + list(PURPOSES)), label="purpose"),
        # around now to the second (a link expiring at exactly now still works), or far off
        expires_at=draw(st.integers(now - 2, now + 2) | st.integers(0, 2**40), label="expires"),
        scope=draw(
            st.dictionaries(
                st.sampled_from(["o", "h", "a", "t", "k", "f", "pg", "st"]),
                st.text(max_size=12)
                | st.integers()
                | st.none()
                | st.sampled_from(["accept"])
                | st.lists(st.sampled_from(["email:newsletter", "nocolon"]) | st.text(max_size=6)),
                max_size=4,
            ),
            label="scope",
        ),
    )
    real = draw(st.booleans(), label="real secret") or draw(st.booleans())
    text = sign([REAL_SECRET if real else OTHER_SECRET], token)
    how = draw(st.sampled_from(["intact"] * 4 + ["truncate", "flip", "dots", "swap"]))
    payload, _, mac = text.partition(".")
    if how == "truncate":
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif how == "flip":
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]
    elif how == "dots":
        text = f"{payload}.{mac}.{mac}"
    elif how == "swap":
        text = f"{mac}.{payload}"
    return text, real and how == "intact", token


def test_signed_links_are_honoured_only_when_valid_and_never_fail(
    cloud: LocalCloud, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = _contact(cloud, tables, "links@example.com")
    watch = StoreWatch(cloud).install(monkeypatch)
    seen: dict[int, int] = {}

    @_settings(300)
    @given(
        route=st.sampled_from(sorted(ROUTES)),
        method=st.sampled_from(["GET", "POST"]),
        garbage=st.text(max_size=30),
        data=st.data(),
    )
    def follow(route: str, method: str, garbage: str, data: st.DataObject) -> None:
        text, intact, token = data.draw(tokens([known, "no-such-contact"], ROUTES[route]))
        now = int(clock.now().timestamp())
        valid = intact and token.purpose == ROUTES[route] and token.expires_at >= now
        path = route + quote(text or garbage or "x", safe="")
        body = "shown=" if route == "/u/" else ""
        with watch.request() as stored:
            status, _, _ = cloud.http(
                method,
                path,
                body if method == "POST" else None,
                {"content-type": "application/x-www-form-urlencoded"},
                write_key=None,
            )
            writes, changed = stored()
        seen[status] = seen.get(status, 0) + 1
        assert status < 500, (method, path)
        if status >= 400:
            assert not writes and not changed, (method, path, status, writes)
        if not valid:
            assert status in (400, 403, 404), (method, path, status)
        elif route == "/c/" and method == "GET":
            assert status == 200, (method, path, status)  # the button; a GET changes nothing
        elif route in ("/u/", "/c/"):  # the page, or signed but for nobody we know
            assert status == (200 if token.contact_id == known else 404), (method, path, status)

    follow()
    assert {200, 403, 404} <= set(seen), seen


def test_a_click_token_joins_a_visit_only_when_valid(cloud: LocalCloud, tables: Tables) -> None:
    known = _contact(cloud, tables, "clicks@example.com")
    joined = {True: 0, False: 0}

    visitors = itertools.count()

    @_settings(120)
    @given(link=tokens([known], CLICK))
    def visit(link: tuple[str, bool, LinkToken]) -> None:
        text, intact, token = link
        visitor = f"visitor-{next(visitors)}"  # a new one each time: no duplicate messageId
        now = int(clock.now().timestamp())
        valid = intact and token.purpose == CLICK and token.expires_at >= now
        url = f"https://example.com/pricing?{urlencode({CLICK_PARAM: text})}"
        message_id = f"click-{visitor}"
        status, _, answer = cloud.http(
            "POST",
            "/v1/page",
            {
                "anonymousId": str(visitor),
                "messageId": message_id,
                "context": {"page": {"url": url}},
            },
            write_key=PUBLIC_KEY,
        )
        assert status == 200, answer
        stored = [a for a in tables.activities(f"anon:{visitor}") if a.message_id == message_id]
        assert len(stored) == 1
        signed = stored[0].trust == "signed_link"
        assert signed == valid, (text, token)
        if valid:
            assert stored[0].contact_id == token.contact_id
        joined[signed] += 1

    visit()
    assert joined[True] and joined[False], joined


# --- forms -----------------------------------------------------------------------------------
_NASTY = st.sampled_from(
    [
        "ada@example.com",
        "ADA@Example.COM",
        "ada@example.com\r\nBcc: eve@example.com",
        "ada@example.com, eve@example.com",
        "ada\x00@example.com",
        "user@bücher.de",
        "user@xn--bcher-kva.de",
        "",
        " ",
        "on",
        "true",
        "+44 20 7946 0958",
        "x" * 5000,
    ]
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | _NASTY,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
# what JSON can say and Python's json cannot write: lone surrogates, integers past 4,300 digits
_RAW_JSON = st.sampled_from(['"\\ud800"', '"a\\udfffb"', "1" * 5000, "[" * 300 + "]" * 300])


@st.composite
def submissions(draw: st.DrawFn) -> tuple[str, str, bytes, str | None]:
    """(form id, content type, body, write key)."""
    form_id = draw(st.sampled_from(sorted(FORMS)))
    names = [f["name"] for f in FORMS[form_id]["fields"]]
    names += [c["field"] for c in FORMS[form_id].get("consent", [])]
    keys = st.sampled_from(names) | st.text(max_size=10)
    key = draw(st.sampled_from([PUBLIC_KEY] * 4 + [SECRET_KEY, "no-such-key", None]))
    if draw(st.booleans()):  # url-encoded, as an HTML form posts
        fields = draw(st.dictionaries(keys, st.text() | _NASTY, max_size=6))
        return form_id, "application/x-www-form-urlencoded", urlencode(fields).encode(), key
    fields = draw(st.dictionaries(keys, _VALUES, max_size=6))
    text = json.dumps(fields)
    if fields and draw(st.booleans()):  # one value JSON can carry and Python cannot write
        first = json.dumps(next(iter(fields)))
        text = "{" + first + ": " + draw(_RAW_JSON) + text[len(first) + 3 :]
    return form_id, "application/json", text.encode("utf-8", "surrogatepass"), key


def test_forms_never_fail_and_store_exactly_what_they_accept(
    cloud: LocalCloud, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.sync_content(only=[])
    watch = StoreWatch(cloud).install(monkeypatch)
    seen: dict[int, int] = {}

    @_settings(250)
    @given(submission=submissions())
    # what a visitor sends, so an acceptance is always among the cases (random field names
    # rarely make a valid sign-up once every address is checked)
    @example(
        submission=(
            "newsletter-signup",
            "application/json",
            b'{"email": "ada@example.com", "consent_newsletter": true}',
            PUBLIC_KEY,
        )
    )
    @example(
        submission=(
            "newsletter-signup",
            "application/x-www-form-urlencoded",
            b"email=bo%40example.com&first_name=Bo",
            PUBLIC_KEY,
        )
    )
    def submit(submission: tuple[str, str, bytes, str | None]) -> None:
        form_id, content_type, body, key = submission
        with watch.request() as stored:
            status, _, answer = cloud.http(
                "POST", f"/v1/forms/{form_id}", body, {"content-type": content_type}, write_key=key
            )
            writes, changed = stored()
        seen[status] = seen.get(status, 0) + 1
        assert status < 500, (form_id, body[:300], answer)
        if status == 202:
            ids = {a.message_id for a in tables.activities() if a.kind == "form"}
            assert answer["messageId"] in ids
        else:
            assert not writes and not changed, (status, writes, body[:300])
        if status == 400 and answer.get("code") == "invalid_form":
            assert answer["errors"] and all(e["field"] and e["reason"] for e in answer["errors"])
        if key is None or key == "no-such-key":
            assert status in (400, 401), (status, answer)  # an unreadable body may come first

    submit()
    assert {202, 400, 401} <= set(seen), seen
