"""A form id that does not exist costs nothing: no read of the bucket per unknown id, and no
cache entry for it; an existing form is read once a minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nurture.tracking.forms import FormCatalog, FormMisconfigured

pytestmark = pytest.mark.unit

SIGNUP = """
id: signup
fields:
  - {name: email, contact_field: email, required: true, type: email}
"""


class CountingSource:
    def __init__(self, forms: dict[str, str]):
        self.forms = forms
        self.listings = 0
        self.reads: list[str] = []

    def form_ids(self) -> set[str]:
        self.listings += 1
        return set(self.forms)

    def form_text(self, form_id: str) -> str | None:
        self.reads.append(form_id)
        return self.forms.get(form_id)


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def test_ten_thousand_unknown_ids_read_nothing_and_cache_nothing() -> None:
    source, now = CountingSource({"signup": SIGNUP}), Clock()
    catalog = FormCatalog(source, now=now)
    for n in range(10_000):
        assert catalog.get(f"no-such-form-{n}") is None
    assert source.reads == []  # not one GetObject
    assert source.listings == 1  # one listing for the minute
    assert catalog._forms == {}  # nothing kept for ids that are no form
    # ids that cannot be file names are not even looked up
    for bad in ("../secrets", "a" * 101, "ключ", "", "x/y", "-lead"):
        assert catalog.get(bad) is None
    assert source.listings == 1


def test_an_existing_form_is_read_once_a_minute_and_a_new_one_appears_within_one() -> None:
    source, now = CountingSource({"signup": SIGNUP}), Clock()
    catalog = FormCatalog(source, now=now)
    for _ in range(100):
        form = catalog.get("signup")
        assert form is not None and form.id == "signup"
    assert source.reads == ["signup"]
    # a deploy adds a form: it is found once the listing is a minute old, not before
    source.forms["guide"] = SIGNUP.replace("id: signup", "id: guide")
    now.at += timedelta(seconds=59)
    assert catalog.get("guide") is None
    now.at += timedelta(seconds=1)
    guide = catalog.get("guide")
    assert guide is not None and guide.id == "guide"
    assert source.listings == 2
    # a form that is deleted leaves the cache at the next listing
    del source.forms["signup"]
    now.at += timedelta(seconds=60)
    assert catalog.get("signup") is None
    assert set(catalog._forms) <= {"guide"}


def test_a_broken_definition_is_misconfigured_not_a_crash() -> None:
    source = CountingSource({"broken": "id: [unclosed", "odd": "id: odd\nfields: 3\n"})
    catalog = FormCatalog(source, now=Clock())
    for form_id in ("broken", "odd"):
        with pytest.raises(FormMisconfigured):
            catalog.get(form_id)
