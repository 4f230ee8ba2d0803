"""Email templates: jinja2 in a sandbox, HTML autoescaped, plus a plain-text part.

A template lives in the bucket at templates/email/<id>.yaml with `subject`, optional
`preheader`, `html` and `text`, each a jinja2 template. Templates see `contact` (profile and
custom fields) and `program`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from nurture.ports import BlobStore

if TYPE_CHECKING:
    from jinja2 import Template, TemplateError, Undefined
    from jinja2.sandbox import SandboxedEnvironment

# jinja2 and yaml are imported when a template is first loaded or rendered, not with this
# module: the functions that import it for a rarely taken path (react: a double opt-in
# confirmation, a sales notification) do not pay for them at every cold start.


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


@cache
def _env(html: bool, strict: bool) -> SandboxedEnvironment:
    # Marketers write templates, so they render in a sandbox; HTML escapes every value.
    from jinja2 import StrictUndefined
    from jinja2 import Undefined as Lenient
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=html, undefined=StrictUndefined if strict else Lenient)


def __getattr__(name: str) -> Any:
    if name == "Undefined":  # re-exported (see __all__), imported on use
        from jinja2 import Undefined

        return Undefined
    raise AttributeError(name)


def template_key(template_id: str) -> str:
    return f"templates/email/{template_id}.yaml"


def load_template(blobs: BlobStore, template_id: str) -> EmailTemplate:
    source = blobs.get_text(template_key(template_id))
    if source is None:
        raise TemplateProblem(
            f"email template {template_id!r} not found at {template_key(template_id)}"
        )
    import yaml

    try:
        return EmailTemplate.model_validate(_parsed(source))
    except (yaml.YAMLError, ValidationError) as exc:
        raise TemplateProblem(f"email template {template_id!r} is not valid: {exc}") from exc


@lru_cache(maxsize=256)
def _parsed(source: str) -> Any:
    """A template file's YAML, parsed once per warm container (the same text, the same data;
    the model is made fresh from it on every load)."""
    import yaml

    return yaml.safe_load(source)


@lru_cache(maxsize=1024)
def _compiled(env: SandboxedEnvironment, source: str) -> Template:
    """jinja2 compiles a template to Python on every from_string: once per source instead
    (a syntax error is raised again, never cached)."""
    return env.from_string(source)


def _preheader_html(preheader: str) -> str:
    # The hidden preview text inbox clients show next to the subject.
    return (
        ('<div style="display:none;max-height:0;overflow:hidden">' + preheader + "</div>")
        if preheader
        else ""
    )


def _undefined_names(source: str, name: str) -> list[str]:
    """Dotted names in the template that end in `name`, e.g. 'contact.nickname'."""
    from jinja2 import TemplateError, nodes

    try:
        tree = _env(False, False).parse(source)
    except TemplateError:
        return []
    found = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if isinstance(node, nodes.Name) and node.name == name:
            found.append(name)
        elif (
            isinstance(node, nodes.Getattr)
            and node.attr == name
            and isinstance(node.node, nodes.Name)
        ) or (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and node.arg.value == name
            and isinstance(node.node, nodes.Name)
        ):
            found.append(f"{node.node.name}.{name}")
    return list(dict.fromkeys(found))


def _describe(exc: TemplateError, part: str, source: str) -> str:
    """A message a marketer can act on: which part, which line, which variable."""
    from jinja2 import TemplateSyntaxError, UndefinedError

    if isinstance(exc, TemplateSyntaxError):
        return f"{part}: syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, UndefinedError):
        match = re.search(r"has no attribute '([^']+)'|'([^']+)' is undefined", str(exc.message))
        name = (match.group(1) or match.group(2)) if match else ""
        dotted = _undefined_names(source, name) if name else []
        variable = dotted[0] if dotted else name or "?"
        return (
            f"{part}: undefined variable '{variable}' (give it a default, e.g. "
            f"{{{{ {variable} | default('') }}}})"
        )
    return f"{part}: {exc}"


def render_email(
    template: EmailTemplate, context: dict[str, Any], strict: bool = False, template_id: str = ""
) -> RenderedEmail:
    from jinja2 import TemplateError

    html_env, text_env = _env(True, strict), _env(False, strict)
    parts: dict[str, str] = {}
    for part, env in (
        ("subject", text_env),
        ("preheader", html_env),
        ("html", html_env),
        ("text", text_env),
    ):
        source = getattr(template, part)
        try:
            parts[part] = _compiled(env, source).render(context)
        except TemplateError as exc:
            where = f"email template {template_id!r}" if template_id else "email template"
            raise TemplateProblem(f"{where}: {_describe(exc, part, source)}") from exc
    html = _preheader_html(parts["preheader"].strip()) + parts["html"]
    return RenderedEmail(subject=" ".join(parts["subject"].split()), html=html, text=parts["text"])


def render_text(
    source: str, context: dict[str, Any], strict: bool = False, what: str = "text"
) -> str:
    """A plain-text template (an SMS): no escaping, same sandbox and same error messages."""
    from jinja2 import TemplateError

    env = _env(False, strict)
    try:
        return _compiled(env, source).render(context)
    except TemplateError as exc:
        raise TemplateProblem(_describe(exc, what, source)) from exc


def sample_context() -> dict[str, Any]:
    """A context with every contact field present, to catch undefined names at deploy time."""
    from nurture.contacts import PROFILE_FIELDS

    contact: dict[str, Any] = dict.fromkeys(PROFILE_FIELDS, "x")
    contact.update(contact_id="x", stage="lead", score=0, tags=[])
    return {
        "contact": contact,
        "program": {"id": "x", "name": "x"},
        # links the sender provides (see nurture.delivery.compose.context_for)
        "unsubscribe_url": "https://x/u/x",
        "preferences_url": "https://x/u/x",
        "confirm_url": "https://x/c/x",
    }


def check_template(blobs: BlobStore, template_id: str) -> None:
    """Raise TemplateProblem if the template is missing, malformed or uses unknown names."""
    render_email(
        load_template(blobs, template_id), sample_context(), strict=True, template_id=template_id
    )


def check_sms_text(source: str) -> None:
    """Raise TemplateProblem if an SMS text has a syntax error or uses unknown names."""
    render_text(source, sample_context(), strict=True, what="sms text")


__all__ = [
    "EmailTemplate",
    "RenderedEmail",
    "TemplateProblem",
    "Undefined",
    "check_sms_text",
    "check_template",
    "load_template",
    "render_email",
    "render_text",
]
