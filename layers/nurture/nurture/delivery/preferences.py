"""The preference page, one-click unsubscribe and double opt-in, behind signed links.

Links (PUBLIC_BASE_URL + path):
  /u/<token>  GET: the preference page; POST "List-Unsubscribe=One-Click" (RFC 8058): leave
              all marketing email at once; POST from the page: save choices or leave all.
  /c/<token>  GET: a page with one button; POST: confirm a double opt-in (pending -> granted).
              A button rather than a bare GET, so mail scanners that follow links do not
              confirm on the reader's behalf.

The page grants only topics in the configuration (CONSENT_TOPICS), and records as proof the
page's own words for the choice, never text from the request. A save that names a choice the
page does not offer this contact (an unknown topic, a channel the contact has no address for,
a checkbox outside `shown`) is refused with 400 naming the field, and nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from nurture import clock
from nurture.delivery.clicks import click_token, with_token
from nurture.delivery.consent import (
    CHANNELS,
    GENERIC_TOPIC,
    confirm_pending,
    marketing_permission,
    set_preferences,
    withdraw_all,
)
from nurture.delivery.tokens import CONFIRM, UNSUBSCRIBE, InvalidToken, LinkToken, verify
from nurture.ids import stable_id

if TYPE_CHECKING:
    from jinja2 import Template

    # annotations only: the confirmation page (a double opt-in link's GET) reads no contact
    # and records nothing, so its cold start builds neither model (#9)
    from nurture.contacts import Contact
    from nurture.delivery.config import DeliveryPolicy
    from nurture.delivery.ports import DeliveryStore
    from nurture.ports import ActivityStore

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#222}
fieldset{border:1px solid #ddd;margin:1rem 0}label{display:block;margin:.4rem 0}
button{padding:.5rem 1rem;margin:.3rem .3rem .3rem 0}</style></head>
<body><h1>{{ title }}</h1>{{ body }}</body></html>"""
_PAGE = """
<p>Hello{% if name %} {{ name }}{% endif %}{% if address %} ({{ address }}){% endif %}. Choose what you would like to receive.</p>
{% if notice %}<p role="status"><strong>{{ notice }}</strong></p>{% endif %}
<form method="post">
<input type="hidden" name="shown" value="{{ shown }}">
{% for channel, rows in groups %}<fieldset><legend>{{ channel_names[channel] }}</legend>
{% for key, label, checked in rows %}<label><input type="checkbox" name="{{ key }}" value="on"{% if checked %} checked{% endif %}> {{ label }}</label>
{% endfor %}</fieldset>{% endfor %}
<button type="submit" name="action" value="save">Save my choices</button>
<button type="submit" name="action" value="unsubscribe_all">Unsubscribe from all</button>
</form>"""
_MESSAGE = "<p>{{ message }}</p>"
_CONTINUE = '<p><a href="{{ url }}">Continue to {{ host }}</a></p>'
_CONFIRM = """<p>Please confirm that you want to receive {{ what }}.</p>
<form method="post"><button type="submit">Yes, confirm my subscription</button></form>"""
_CHANNEL_NAMES = {"email": "Email", "sms": "Text messages (SMS)"}


# analytics.js keeps the browser's anonymous id in this cookie, on the site's top domain: a
# confirmation link on a custom domain of the site's (PublicBaseUrl) receives it
ANONYMOUS_ID_COOKIE = "ajs_anonymous_id"
MAX_ID_CHARS = 200  # as tracking calls' ids


def browser_of(cookies: list[str] | None) -> str | None:
    """The anonymous id in analytics.js's cookie (plain, or a URL-encoded JSON string as
    older versions write it), or None."""
    for cookie in cookies or []:
        name, _, value = cookie.partition("=")
        if name.strip() != ANONYMOUS_ID_COOKIE:
            continue
        value = unquote(value.strip()).strip('"')
        if 0 < len(value) <= MAX_ID_CHARS and value.isprintable():
            return value
    return None


class PreferenceError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@cache
def _template(source: str) -> Template:
    """One of this module's templates, compiled once. jinja2 is imported by the first page
    rendered, not with the module: a one-click unsubscribe renders none (#9 cold starts)."""
    from jinja2 import Environment

    return Environment(autoescape=True).from_string(source)  # noqa: S701 - autoescape is on


def page(title: str, body: str) -> str:
    from markupsafe import Markup

    return _template(_LAYOUT).render(title=title, body=Markup(body))  # noqa: S704 - body is rendered with autoescape


def _mask(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _quote(key: str) -> str:
    return repr(key[:60] + ("..." if len(key) > 60 else ""))


def _wording(key: str, granted: bool) -> str:
    """The proof recorded with a choice: the page's own words for it (from the configured
    topic and channel), never text the client sent."""
    channel, _, topic = key.partition(":")
    verb = "Ticked" if granted else "Unticked"
    return f'{verb} "{_label(topic)}" under "{_CHANNEL_NAMES[channel]}" on the preference page'


def _label(topic: str) -> str:
    return (
        "All marketing"
        if topic == GENERIC_TOPIC
        else topic.replace("_", " ").replace("-", " ").capitalize()
    )


@dataclass
class PreferenceCenter:
    store: DeliveryStore
    activities: ActivityStore
    policy: DeliveryPolicy

    def _verify(self, token: str, purpose: str) -> LinkToken:
        try:
            return verify(self.policy.secrets, token, purpose, int(clock.now().timestamp()))
        except InvalidToken:
            raise PreferenceError(403, "This link is not valid or has expired.") from None

    def _update(self, contact_id: str, change: Any) -> Contact:
        contact = self.store.update_contact(contact_id, change)
        if contact is None:
            raise PreferenceError(404, "We could not find your subscription.")
        return contact

    # --- unsubscribe and preferences -----------------------------------------------------------
    def one_click(self, token_text: str) -> list[str]:
        """RFC 8058: leave all marketing email. The keys withdrawn (none when already out)."""
        token = self._verify(token_text, UNSUBSCRIBE)
        return self._withdraw(token, str(token.scope.get("ch") or "email"), "one-click")

    def _withdraw(self, token: LinkToken, channel: str | None, how: str) -> list[str]:
        now = clock.iso(clock.now())
        changed: list[str] = []

        def change(contact: Contact) -> bool:
            changed[:] = withdraw_all(contact, channel, now, f"unsubscribe:{how}")
            return bool(changed)

        self._update(token.contact_id, change)
        self._changed(token, changed, "withdrawn", how)
        return changed

    def view(self, token_text: str, notice: str = "") -> str:
        token = self._verify(token_text, UNSUBSCRIBE)
        contact = self._update(token.contact_id, lambda c: False)
        return self._render(contact, notice)

    def _keys(self, contact: Contact) -> list[str]:
        """The choices the page offers: every configured topic on each channel the contact
        has, and a topic outside the configuration only while it is granted (so it can be
        withdrawn; it is never granted from here)."""
        offered = [t for t in self.policy.topics if t != GENERIC_TOPIC]
        keys = []
        for channel in CHANNELS:
            if channel == "email" and not contact.email or channel == "sms" and not contact.phone:
                continue
            held = [
                k.split(":", 1)[1]
                for k in contact.consent
                if k.startswith(f"{channel}:") and k != f"{channel}:{GENERIC_TOPIC}"
            ]
            extra = [
                t
                for t in held
                if t not in offered and marketing_permission(contact, channel, t).allowed
            ]
            keys += [f"{channel}:{t}" for t in dict.fromkeys([*offered, *extra])]
        return keys

    def _render(self, contact: Contact, notice: str) -> str:
        keys = self._keys(contact)
        groups: dict[str, list[tuple[str, str, bool]]] = {}
        for key in keys:
            channel, topic = key.split(":", 1)
            allowed = marketing_permission(contact, channel, topic).allowed
            groups.setdefault(channel, []).append((key, _label(topic), allowed))
        body = _template(_PAGE).render(
            name=contact.first_name or "",
            address=_mask(contact.email),
            notice=notice,
            groups=list(groups.items()),
            shown=",".join(keys),
            channel_names=_CHANNEL_NAMES,
        )
        return page("Your subscription preferences", body)

    def submit(self, token_text: str, form: dict[str, str]) -> str:
        """The preference page's form: save the choices, or leave everything."""
        token = self._verify(token_text, UNSUBSCRIBE)
        if form.get("action") == "unsubscribe_all":
            self._withdraw(token, None, "preference-page")
            return page(
                "You are unsubscribed",
                _template(_MESSAGE).render(
                    message="You will not receive any more marketing from us. Messages about "
                    "things you have bought may still reach you."
                ),
            )
        shown = [k for k in (form.get("shown") or "").split(",") if k]
        ticks = {k: v for k, v in form.items() if k not in ("action", "shown")}
        now = clock.iso(clock.now())
        changed: list[str] = []
        wanted: dict[str, bool] = {}

        def change(contact: Contact) -> bool:
            # Only what the page offers this contact, checked against the stored contact and
            # the configuration; anything else refuses the whole request (nothing is stored).
            offered = set(self._keys(contact))
            for key in shown:
                if key not in offered:
                    raise PreferenceError(
                        400,
                        f"The field 'shown' lists {_quote(key)}, a choice this page does not offer.",
                    )
            for key in ticks:
                if key not in shown:
                    raise PreferenceError(
                        400, f"The field {_quote(key)} is not one of the choices on this page."
                    )
            wanted.update({key: ticks.get(key) == "on" for key in shown})
            wording = {key: _wording(key, want) for key, want in wanted.items()}
            changed[:] = set_preferences(contact, wanted, now, "preference-page", wording)
            return bool(changed)

        contact = self._update(token.contact_id, change)
        granted = [k for k in changed if wanted.get(k)]
        self._changed(
            token, [k for k in changed if not wanted.get(k)], "withdrawn", "preference-page"
        )
        self._changed(token, granted, "granted", "preference-page")
        return self._render(contact, "Your choices are saved.")

    def _changed(self, token: LinkToken, keys: list[str], status: str, how: str) -> None:
        if not keys:
            return
        now = clock.iso(clock.now())
        program_id, step_id = token.scope.get("pg"), token.scope.get("st")
        name = f"consent.{status}"
        from nurture.tracking.events import Activity

        self.activities.put_new(
            Activity(
                actor=f"contact:{token.contact_id}",
                contact_id=token.contact_id,
                message_id=stable_id(name, token.contact_id, ",".join(keys), now),
                kind="consent",
                name=name,
                occurred_at=now,
                received_at=now,
                properties={"keys": keys, "how": how, "program_id": program_id, "step_id": step_id},
            )
        )
        if status == "withdrawn" and program_id and step_id:
            self.store.count(
                str(program_id),
                str(step_id),
                {"unsubscribed": 1},
                f"unsubscribed#{token.contact_id}#{program_id}#{step_id}",
            )

    # --- double opt-in ------------------------------------------------------------------------
    def confirm_view(self, token_text: str) -> str:
        token = self._verify(token_text, CONFIRM)
        keys = [str(k) for k in token.scope.get("k", [])]
        what = ", ".join(_label(k.split(":", 1)[1]).lower() for k in keys) or "our messages"
        return page("Confirm your subscription", _template(_CONFIRM).render(what=what))

    def confirm(self, token_text: str, browser: str | None = None) -> str:
        """Grant the pending consents. `browser`: the anonymous id of the browser that
        followed the link (`browser_of` its cookies), which this proves reads the mailbox:
        the react function adopts the contact with it (nurture.runtime.identity)."""
        token = self._verify(token_text, CONFIRM)
        keys = [str(k) for k in token.scope.get("k", [])]
        now = clock.iso(clock.now())
        changed: list[str] = []

        def change(contact: Contact) -> bool:
            changed[:] = confirm_pending(contact, keys, now)
            return bool(changed)

        self._update(token.contact_id, change)
        if changed:
            from nurture.tracking.events import Activity

            # A tracked event, so a program can start on it or wait for it ("consent.confirmed").
            self.activities.put_new(
                Activity(
                    actor=f"contact:{token.contact_id}",
                    contact_id=token.contact_id,
                    message_id=stable_id("consent.confirmed", token.contact_id, ",".join(changed)),
                    kind="track",
                    name="consent.confirmed",
                    occurred_at=now,
                    received_at=now,
                    properties={
                        "keys": changed,
                        "form": token.scope.get("f"),
                        **({"browser": browser} if browser else {}),
                    },
                )
            )
        thanks = _template(_MESSAGE).render(message="Your subscription is confirmed.")
        return page("Thank you", thanks + self._continue(token.contact_id))

    def _continue(self, contact_id: str) -> str:
        """A link on to the site (the first of `SiteHosts`) with a signed click token, so
        the browser that followed the confirmation proves it reads this mailbox when it
        lands there, as an email click does (README, "Who may change a contact")."""
        if not self.policy.site_hosts:
            return ""
        host = self.policy.site_hosts[0]
        expires = int(clock.now().timestamp()) + self.policy.click_link_days * 86400
        url = with_token(f"https://{host}/", click_token(self.policy.secrets, contact_id, expires))
        return _template(_CONTINUE).render(url=url, host=host)
