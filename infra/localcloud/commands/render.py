"""`nurture render`: preview an email template for a contact, as the contact would get it
(marketing emails with their unsubscribe link and headers). No cloud needed: the template
is read from the repository's templates/email/ folder.

    nurture render welcome-1 --contact contact.yaml
    nurture render welcome-1 --field first_name=Ada --purpose service
    nurture render welcome-1 --strict      # fail on undefined names, as a deploy does

contact.yaml holds the contact's fields, e.g. {email: ada@example.com, first_name: Ada,
fields: {plan: pro}}. Missing fields render with the template's defaults.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
PREVIEW_SECRET = "preview-only-secret-not-for-sending"  # noqa: S105 - signs preview links only


class _FolderBlobs:
    def __init__(self, root: Path):
        self.root = root

    def get_text(self, key: str) -> str | None:
        path = self.root / key
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None:
        raise NotImplementedError("render only reads")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("template", help="template id: templates/email/<id>.yaml")
    parser.add_argument("--contact", type=Path, help="a YAML file with the contact's fields")
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a contact field (repeatable); overrides --contact",
    )
    parser.add_argument("--purpose", choices=["marketing", "service"], default="marketing")
    parser.add_argument("--topic", default="newsletter", help="the consent topic (marketing)")
    parser.add_argument("--program", default="preview", help="the program id templates see")
    parser.add_argument(
        "--strict", action="store_true", help="undefined names are errors (as at deploy)"
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the repository (default: this one)"
    )


def _contact(args: argparse.Namespace) -> Any:
    from nurture.contacts import Contact

    data: dict[str, Any] = {}
    if args.contact:
        loaded = yaml.safe_load(args.contact.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.contact}: expected a mapping of contact fields")
        data.update(loaded)
    for item in args.field:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--field {item!r}: write NAME=VALUE")
        if name.startswith("fields."):
            data.setdefault("fields", {})[name.removeprefix("fields.")] = value
        else:
            data[name] = value
    data.pop("consent", None)  # a preview needs no permission
    now = "2026-01-01T00:00:00.000Z"
    return Contact.model_validate(
        {
            "contact_id": "preview",
            "created_at": now,
            "updated_at": now,
            "email": "preview@example.com",
            **data,
        }
    )


def run(args: argparse.Namespace) -> int:
    from nurture.delivery.compose import compose_email, context_for
    from nurture.delivery.config import DeliveryPolicy
    from nurture.rendering import (
        TemplateProblem,
        load_template,
        render_email,
        render_text,
        sample_context,
    )

    blobs = _FolderBlobs(args.root)
    try:
        template = load_template(blobs, args.template)
        contact = _contact(args)
        if args.strict:
            strict = sample_context()
            strict.update(context_for(contact, args.program))
            render_email(template, strict, strict=True, template_id=args.template)
        policy = DeliveryPolicy(
            secrets=[PREVIEW_SECRET],
            public_base_url="http://localhost:3000",
            send_window=None,
            default_timezone="UTC",
            email_cap=None,
            sms_cap=None,
        )
        email = compose_email(
            template,
            contact,
            policy,
            datetime.now(UTC),
            program_id=args.program,
            step_id="preview",
            purpose=args.purpose,
            topic=args.topic,
        )
    except (TemplateProblem, ValueError, OSError) as exc:
        print(f"nurture render: {exc}", file=sys.stderr)
        return 1
    out = sys.stdout
    out.write(f"Subject: {email.subject}\n")
    if template.preheader:
        preheader = render_text(template.preheader, context_for(contact, args.program))
        out.write(f"Preheader: {preheader.strip()}\n")
    for name, value in email.headers.items():
        out.write(f"{name}: {value}\n")
    out.write("\n--- text ---\n" + email.text.rstrip("\n") + "\n")
    out.write("\n--- html ---\n" + email.html.rstrip("\n") + "\n")
    return 0
