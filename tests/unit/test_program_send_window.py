"""A program (or one of its sends) may narrow when marketing messages go out."""

from __future__ import annotations

from pathlib import Path

import pytest

from nurture.programs.deploy import validate_source

pytestmark = pytest.mark.unit

WELCOME = (Path(__file__).parents[2] / "programs" / "welcome.yaml").read_text()


class _Templates:
    def get_text(self, key: str) -> str:
        return "subject: Hi\nhtml: <p>Hi</p>\ntext: Hi\n"


def _with_window(window: str) -> str:
    return WELCOME.replace("name: Welcome new subscribers", f"name: W\nsend_window: '{window}'")


def test_a_program_send_window_is_accepted_and_kept_in_the_definition() -> None:
    program, problems = validate_source(_with_window("mon-fri 09:00-17:00"), _Templates())
    assert problems == []
    assert program is not None and program.send_window == "mon-fri 09:00-17:00"


def test_a_malformed_send_window_is_reported_with_its_line() -> None:
    source = _with_window("9 to 5")
    _, problems = validate_source(source, _Templates())
    assert len(problems) == 1
    assert problems[0]["where"] == "send_window"
    lines = source.splitlines()
    assert lines[problems[0]["line"] - 1] == "send_window: '9 to 5'"  # the line it is on
    assert "08:00-20:00" in problems[0]["problem"]


def test_a_step_send_window_reaches_the_steps_function() -> None:
    from nurture.programs.compiler import step_params
    from nurture.programs.model import SendEmail

    step = SendEmail(id="hello", type="send_email", template="t", send_window="10:00-12:00")
    assert step_params(step)["send_window"] == "10:00-12:00"
