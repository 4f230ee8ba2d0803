"""Building one email for one contact: template context, unsubscribe link, headers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from nurture.contacts import Contact
from nurture.delivery.clicks import click_token, sign_site_links
from nurture.delivery.config import DeliveryPolicy
from nurture.delivery.tokens import UNSUBSCRIBE, LinkToken, sign
from nurture.rendering import EmailTemplate, RenderedEmail, render_email

_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class ComposedEmail:
    subject: str
    html: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    unsubscribe_url: str | None = None


def unsubscribe_url(
    policy: DeliveryPolicy,
    contact_id: str,
    now: datetime,
    *,
    channel: str,
    topic: str,
    program_id: str = "",
    step_id: str = "",
) -> str:
    """The signed link to the preference page (GET) and one-click unsubscribe (POST)."""
    scope = {"ch": channel, "t": topic, "pg": program_id, "st": step_id}
    token = LinkToken(
        contact_id=contact_id,
        purpose=UNSUBSCRIBE,
        expires_at=int(now.timestamp()) + policy.unsubscribe_link_days * 86400,
        scope={k: v for k, v in scope.items() if v},
    )
    return policy.link("u", sign(policy.secrets, token))


def context_for(
    contact: Contact, program_id: str, links: dict[str, str] | None = None
) -> dict[str, Any]:
    """What a template sees: `contact`, `program`, and the link names (empty when unused)."""
    context: dict[str, Any] = {"contact": contact.template_context(), "program": {"id": program_id}}
    context.update({"unsubscribe_url": "", "preferences_url": "", "confirm_url": ""})
    context.update(links or {})
    return context


def _with_footer(rendered: RenderedEmail, url: str, topic: str) -> RenderedEmail:
    """Every marketing email carries a visible unsubscribe link; add one if the template did not."""
    if url in rendered.html and url in rendered.text:
        return rendered
    html, text = rendered.html, rendered.text
    if url not in html:
        # ses:no-track keeps SES click tracking from rewriting (and counting) this link.
        footer = (
            '<p style="font-size:12px;color:#666666">You receive this because you subscribed to '
            f'{escape(topic)}. <a ses:no-track href="{escape(url)}">Unsubscribe or change your '
            "preferences</a>.</p>"
        )
        ends = list(_BODY_END.finditer(html))
        match = ends[-1] if ends else None
        html = html[: match.start()] + footer + html[match.start() :] if match else html + footer
    if url not in text:
        text = text.rstrip("\n") + f"\n\n--\nUnsubscribe or change your preferences: {url}\n"
    return RenderedEmail(subject=rendered.subject, html=html, text=text)


def compose_email(
    template: EmailTemplate,
    contact: Contact,
    policy: DeliveryPolicy,
    now: datetime,
    *,
    program_id: str,
    step_id: str,
    purpose: str,
    topic: str,
    extra_links: dict[str, str] | None = None,
) -> ComposedEmail:
    """Render the template for the contact; marketing gets RFC 8058 one-click headers and a link."""
    links = dict(extra_links or {})
    url = None
    if purpose == "marketing":
        url = unsubscribe_url(
            policy,
            contact.contact_id,
            now,
            channel="email",
            topic=topic,
            program_id=program_id,
            step_id=step_id,
        )
        links.update(unsubscribe_url=url, preferences_url=url)
    rendered = render_email(template, context_for(contact, program_id, links))
    headers: dict[str, str] = {}
    if url:
        rendered = _with_footer(rendered, url, topic)
    if policy.site_hosts:
        expires = int(now.timestamp()) + policy.click_link_days * 86400
        html, text = sign_site_links(
            rendered.html,
            rendered.text,
            policy.site_hosts,
            click_token(policy.secrets, contact.contact_id, expires),
            skip=policy.public_base_url,
        )
        rendered = RenderedEmail(subject=rendered.subject, html=html, text=text)
    if url:  # RFC 8058 one-click unsubscribe on every marketing email
        headers = {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    return ComposedEmail(
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        headers=headers,
        unsubscribe_url=url,
    )
