"""`nurture render` previews a template for a contact, with no cloud."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.cli import main

pytestmark = pytest.mark.unit


def test_render_prints_subject_text_and_escaped_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contact = tmp_path / "contact.yaml"
    contact.write_text('first_name: "Ann <b>"\ncompany: Acme\n')
    assert main(["render", "welcome-1", "--contact", str(contact)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Subject: Welcome to Nurture, Ann <b>!\n")
    assert "--- text ---\nHi Ann <b>," in out
    assert "<h1>Hi Ann &lt;b&gt;,</h1>" in out
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in out


def test_render_reports_a_missing_template_or_an_undefined_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "no-such-template"]) == 1
    assert "not found" in capsys.readouterr().err
    (tmp_path / "templates/email").mkdir(parents=True)
    (tmp_path / "templates/email/t.yaml").write_text(
        'subject: "{{ contact.nickname }}"\nhtml: x\ntext: x\n'
    )
    assert main(["render", "t", "--root", str(tmp_path)]) == 0  # safe default: empty
    assert main(["render", "t", "--root", str(tmp_path), "--strict"]) == 1
    assert "undefined variable 'contact.nickname'" in capsys.readouterr().err
