"""validate_source: every invalid program is rejected with a precise message and its place
in the YAML (line and column)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from nurture.programs.deploy import validate_source

pytestmark = pytest.mark.unit

TEMPLATE = """\
subject: "Hi {{ contact.first_name }}"
html: "<p>Hello {{ contact.first_name }}</p>"
text: "Hello {{ contact.first_name }}"
"""


class Blobs:
    def __init__(self, files: dict[str, str] | None = None):
        self.files = {"templates/email/hello.yaml": TEMPLATE, **(files or {})}

    def get_text(self, key: str) -> str | None:
        return self.files.get(key)

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None:
        self.files[key] = text


def check(source: str, blobs: Blobs | None = None) -> list[dict[str, Any]]:
    program, problems = validate_source(textwrap.dedent(source), blobs or Blobs())
    return problems


def only(problems: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(problems) == 1, problems
    return problems[0]


HEAD = """\
id: demo
name: Demo
trigger: {form: signup}
steps:
"""


def test_a_valid_program_has_no_problems() -> None:
    source = HEAD + textwrap.indent(
        textwrap.dedent("""\
        - {id: hello, type: send_email, template: hello}
        - id: wait-click
          type: wait_for_event
          event: email.clicked
          email: hello
          timeout: 3 days
          on_event: done
          on_timeout: nudge
        - {id: nudge, type: send_sms, text: "Hi {{ contact.first_name }}"}
        - {id: done, type: end}
        """),
        "  ",
    )
    program, problems = validate_source(source, Blobs())
    assert problems == []
    assert program is not None and [s.id for s in program.steps][0] == "hello"


def test_unknown_step_type_names_the_types_and_the_line() -> None:
    problem = only(
        check(
            HEAD
            + "  - {id: hello, type: send_email, template: hello}\n  - {id: x, type: send_fax}\n"
        )
    )
    assert "unknown step type 'send_fax'" in problem["problem"]
    assert "send_email" in problem["problem"]
    assert problem["line"] == 6 and problem["where"].startswith("steps[1]")


def test_a_typo_in_a_setting_suggests_the_right_name() -> None:
    problems = check(HEAD + "  - {id: hello, type: send_email, templte: hello}\n")
    assert {p["where"]: p["problem"] for p in problems} == {
        "steps[0] (hello).template": "`template` is required here",
        "steps[0] (hello).templte": "`templte` is not a setting here; did you mean `template`?",
    }
    assert [(p["line"], p["column"]) for p in problems] == [(5, 5), (5, 35)]


def test_branch_to_a_missing_step() -> None:
    source = HEAD + textwrap.dedent("""\
      - id: check
        type: branch
        branches:
          - when: {field: score, gte: 50}
            next: hot
        default: done
      - {id: done, type: end}
    """)
    problem = only(check(source))
    assert problem["problem"] == "goes to 'hot', which is not a step of this program"
    assert problem["where"] == "steps[0] (check).branches[0].next"
    assert (problem["line"], problem["column"]) == (9, 7)
    assert problem["step"] == "check"


def test_unreachable_step() -> None:
    source = HEAD + textwrap.dedent("""\
      - {id: hello, type: send_email, template: hello, next: done}
      - {id: orphan, type: send_email, template: hello}
      - {id: done, type: end}
    """)
    problem = only(check(source))
    assert "'orphan' can never be reached" in problem["problem"]
    assert problem["line"] == 6


def test_loop_without_a_wait_would_spin() -> None:
    source = HEAD + textwrap.dedent("""\
      - {id: hello, type: send_email, template: hello}
      - {id: again, type: score, add: 1, next: hello}
    """)
    problem = only(check(source))
    assert "hello -> again -> hello has no wait" in problem["problem"]
    assert problem["line"] == 5


def test_loop_that_only_waits_for_events_needs_a_wait() -> None:
    source = HEAD + textwrap.dedent("""\
      - {id: hello, type: send_email, template: hello}
      - id: click
        type: wait_for_event
        event: email.clicked
        email: hello
        timeout: 7 days
        on_event: done
        on_timeout: hello
      - {id: done, type: end}
    """)
    problem = only(check(source))
    assert "only waits for events" in problem["problem"]


def test_a_loop_with_a_wait_is_fine() -> None:
    source = HEAD + textwrap.dedent("""\
      - {id: hello, type: send_email, template: hello}
      - {id: pause, type: wait, duration: 30 days, next: hello}
    """)
    assert check(source) == []


def test_missing_template() -> None:
    problem = only(check(HEAD + "  - {id: hello, type: send_email, template: nope}\n"))
    assert "'nope' not found" in problem["problem"]
    assert problem["where"] == "steps[0] (hello).template" and problem["line"] == 5


def test_template_using_a_field_contacts_do_not_have() -> None:
    blobs = Blobs({"templates/email/bad.yaml": TEMPLATE.replace("first_name", "shoe_size")})
    problem = only(check(HEAD + "  - {id: hello, type: send_email, template: bad}\n", blobs))
    assert "shoe_size" in problem["problem"]


def test_sms_text_using_an_unknown_field() -> None:
    problem = only(check(HEAD + "  - {id: t, type: send_sms, text: 'Hi {{ contact.nickname }}'}\n"))
    assert "nickname" in problem["problem"] and problem["where"] == "steps[0] (t).text"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://example.com/hook", "https://"),
        ("https://localhost/hook", "local host name"),
        ("https://10.1.2.3/hook", "private"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://192.168.0.10/hook", "private"),
        ("https://240.0.0.1/hook", "reserved"),
        ("https://100.64.0.1/hook", "carrier-grade NAT"),
        ("https://[2002:7f00:1::]/hook", "embedding 127.0.0.1"),
        ("https://[64:ff9b::a9fe:a9fe]/hook", "embedding 169.254.169.254"),
        ("https://crm.internal/hook", "local host name"),
        ("https://2130706433/hook", "numeric"),
        ("https://user:pw@example.com/hook", "credentials"),
    ],
)
def test_webhook_must_be_https_to_a_public_address(url: str, words: str) -> None:
    problem = only(check(HEAD + f"  - {{id: call, type: webhook, url: '{url}'}}\n"))
    assert words in problem["problem"]
    assert problem["where"] == "steps[0] (call).url"


def test_public_https_webhook_is_fine() -> None:
    assert check(HEAD + "  - {id: call, type: webhook, url: 'https://hooks.example.com/x'}\n") == []


def test_split_percentages_must_sum_to_100() -> None:
    source = HEAD + textwrap.dedent("""\
      - id: ab
        type: split
        variants:
          - {name: A, percent: 45, next: a}
          - {name: B, percent: 45, next: b}
      - {id: a, type: send_email, template: hello, next: done}
      - {id: b, type: send_email, template: hello, next: done}
      - {id: done, type: end}
    """)
    problem = only(check(source))
    assert problem["problem"] == "percentages must add up to 100; 45 + 45 = 90"
    assert problem["line"] == 7


def test_a_holdout_is_a_variant_going_to_an_end() -> None:
    source = HEAD + textwrap.dedent("""\
      - id: ab
        type: split
        variants:
          - {name: offer, percent: 90, next: offer}
          - {name: holdout, percent: 10, next: done}
      - {id: offer, type: send_email, template: hello}
      - {id: done, type: end}
    """)
    assert check(source) == []


def test_bad_yaml_reports_line_and_column() -> None:
    problem = only(check("id: demo\nname: [unclosed\n"))
    assert problem["problem"].startswith("not valid YAML")
    assert "line" in problem


def test_duplicate_keys_are_reported() -> None:
    problems = check(
        HEAD.replace("name: Demo\n", "name: Demo\nname: Other\n") + "  - {id: e, type: end}\n"
    )
    assert any(
        p["problem"] == "`name` is given twice; keep one" and p["line"] == 3 for p in problems
    )


def test_missing_required_setting() -> None:
    problem = only(check(HEAD + "  - {id: w, type: wait}\n"))
    assert problem["problem"] == "`duration` is required here" and problem["line"] == 5


def test_bad_duration_explains_the_format() -> None:
    problem = only(check(HEAD + "  - {id: w, type: wait, duration: soon}\n"))
    assert "write a number and a unit" in problem["problem"]


def test_unknown_trigger_kind() -> None:
    problems = check("id: demo\nname: Demo\ntrigger: {when: x}\nsteps:\n  - {id: e, type: end}\n")
    assert any("a trigger needs one of the keys form, event" in p["problem"] for p in problems)
    assert all(p["line"] == 3 for p in problems)


def test_bad_condition_is_located_inside_the_branch() -> None:
    source = HEAD + textwrap.dedent("""\
      - id: check
        type: branch
        branches:
          - when: {field: score}
            next: done
        default: done
      - {id: done, type: end}
    """)
    problem = only(check(source))
    assert "give at least one operator" in problem["problem"]
    assert problem["line"] == 8


def test_duplicate_step_ids() -> None:
    problems = check(HEAD + "  - {id: a, type: score, add: 1}\n  - {id: a, type: end}\n")
    assert any("used twice" in p["problem"] and p["line"] == 6 for p in problems)


def test_update_contact_cannot_set_system_fields() -> None:
    problem = only(check(HEAD + "  - {id: u, type: update_contact, set: {consent: x}}\n"))
    assert "cannot set 'consent'" in problem["problem"]


def test_next_on_a_branching_step_is_a_mistake() -> None:
    source = HEAD + textwrap.dedent("""\
      - id: check
        type: branch
        next: done
        branches: [{when: {has_tag: vip}, next: done}]
        default: done
      - {id: done, type: end}
    """)
    assert "remove `next`" in only(check(source))["problem"]


def test_a_run_cannot_wait_too_long_in_one_stretch() -> None:
    waits = "".join(f"  - {{id: w{i}, type: wait, duration: 80 days}}\n" for i in range(5))
    problem = only(check(HEAD + waits))
    assert "without a break" in problem["problem"]


def test_wait_for_event_deadline_limit() -> None:
    source = HEAD + textwrap.dedent("""\
      - id: buy
        type: wait_for_event
        event: purchase
        timeout: 2 years
        on_event: done
        on_timeout: done
      - {id: done, type: end}
    """)
    assert "a deadline can be at most 360 days" in only(check(source))["problem"]


def test_email_event_needs_the_email_step() -> None:
    source = HEAD + textwrap.dedent("""\
      - id: click
        type: wait_for_event
        event: email.clicked
        timeout: 1 day
        on_event: done
        on_timeout: done
      - {id: done, type: end}
    """)
    assert "needs `email`" in only(check(source))["problem"]


def test_entry_modes_are_exclusive() -> None:
    source = HEAD.replace("steps:\n", "entry: {once: true, once_per: 30 days}\nsteps:\n")
    problem = only(check(source + "  - {id: e, type: end}\n"))
    assert "choose one of once, every_time or once_per" in problem["problem"]
    assert problem["line"] == 4
