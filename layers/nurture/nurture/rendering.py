"""Email templates: jinja2 in a sandbox, HTML autoescaped, plus a plain-text part.

A template lives in the bucket at templates/email/<id>.yaml with `subject`, optional
`preheader`, `html` and `text`, each a jinja2 template. Templates see `contact` (profile and
custom fields) and `program`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, ValidationError

from nurture.ports import BlobStore


class EmailTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str
    preheader: str = ""
    html: str
    text: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


class TemplateProblem(ValueError):
    pass


# Marketers write templates, so they render in a sandbox; HTML escapes every value.
_html_env = SandboxedEnvironment(autoescape=True)
_text_env = SandboxedEnvironment(autoescape=False)
_strict_html_env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_strict_text_env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def template_key(template_id: str) -> str:
    return f"templates/email/{template_id}.yaml"


def load_template(blobs: BlobStore, template_id: str) -> EmailTemplate:
    source = blobs.get_text(template_key(template_id))
    if source is None:
        raise TemplateProblem(f"email template {template_id!r} not found at {template_key(template_id)}")
    try:
        return EmailTemplate.model_validate(yaml.safe_load(source))
    except (yaml.YAMLError, ValidationError) as exc:
        raise TemplateProblem(f"email template {template_id!r} is not valid: {exc}") from exc


def _preheader_html(preheader: str) -> str:
    # The hidden preview text inbox clients show next to the subject.
    return ('<div style="display:none;max-height:0;overflow:hidden">' + preheader + "</div>") if preheader else ""


def render_email(template: EmailTemplate, context: dict[str, Any], strict: bool = False) -> RenderedEmail:
    html_env = _strict_html_env if strict else _html_env
    text_env = _strict_text_env if strict else _text_env
    try:
        subject = text_env.from_string(template.subject).render(context).strip()
        preheader = html_env.from_string(template.preheader).render(context).strip()
        html = _preheader_html(preheader) + html_env.from_string(template.html).render(context)
        text = text_env.from_string(template.text).render(context)
    except TemplateError as exc:
        raise TemplateProblem(f"template error: {exc}") from exc
    return RenderedEmail(subject=" ".join(subject.split()), html=html, text=text)


def sample_context() -> dict[str, Any]:
    """A context with every contact field present, to catch undefined names at deploy time."""
    from nurture.contacts import PROFILE_FIELDS

    contact: dict[str, Any] = dict.fromkeys(PROFILE_FIELDS, "x")
    contact.update(contact_id="x", stage="lead", score=0, tags=[])
    return {"contact": contact, "program": {"id": "x", "name": "x"}}


def check_template(blobs: BlobStore, template_id: str) -> None:
    """Raise TemplateProblem if the template is missing, malformed or uses unknown names."""
    render_email(load_template(blobs, template_id), sample_context(), strict=True)


__all__ = ["EmailTemplate", "RenderedEmail", "TemplateProblem", "Undefined", "check_template",
           "load_template", "render_email"]
