"""Contact search (nurture.admin.search) over an in-memory index that behaves as DynamoDB's
keys-only GSIs do (hash key, sort key, Limit, ExclusiveStartKey): whatever the criteria and
page size, the pages together are exactly the matching contacts, each once, and a request
never reads more than MAX_READ index entries."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.admin import search as s
from nurture.admin.errors import AdminError, encode_cursor
from nurture.admin.keys import search_keys
from nurture.admin.ports import IndexQuery, Key

pytestmark = pytest.mark.unit

STAGES = ["subscriber", "lead", "mql"]
FIRST = ["Ada", "Alan", "Grace", "Ålan", None]
LAST = ["Lovelace", "Turing", "Kay", None]


class MemoryIndex:
    def __init__(self, docs: list[dict[str, Any]]):
        self.docs = {d["contact_id"]: d for d in docs}
        self.reads = 0

    def _entries(self, q: IndexQuery) -> list[Key]:
        out = []
        for doc in self.docs.values():
            keys: dict[str, Any] = search_keys(
                doc["stage"],
                doc.get("grade"),
                doc.get("account_id"),
                doc.get("first_name"),
                doc.get("last_name"),
            )
            keys["score"] = doc["score"]
            if keys.get(q.hash_name) != q.hash_value:
                continue
            if q.prefix is not None and not keys.get("name_key", "").startswith(q.prefix):
                continue
            if q.prefix is None and not (
                (q.low is None or doc["score"] >= q.low)
                and (q.high is None or doc["score"] <= q.high)
            ):
                continue
            range_name = "name_key" if q.index == "ByName" else "score"
            out.append(
                {
                    "pk": f"CONTACT#{doc['contact_id']}",
                    "sk": "PROFILE",
                    q.hash_name: q.hash_value,
                    range_name: keys[range_name],
                }
            )
        range_name = "name_key" if q.index == "ByName" else "score"
        return sorted(out, key=lambda k: (k[range_name], k["pk"]), reverse=q.descending)

    def query(
        self, q: IndexQuery, start: Key | None, limit: int
    ) -> tuple[list[tuple[str, Key]], Key | None]:
        entries = self._entries(q)
        at = entries.index(start) + 1 if start else 0
        page = entries[at : at + limit]
        self.reads += len(page)
        last = page[-1] if page and at + limit < len(entries) else None
        return [(k["pk"].removeprefix("CONTACT#"), k) for k in page], last

    def profiles(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: self.docs[i] for i in ids if i in self.docs}

    def contact_for_email(self, email: str) -> str | None:
        return next((d["contact_id"] for d in self.docs.values() if d["email"] == email), None)


docs_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "stage": st.sampled_from(STAGES),
            "grade": st.sampled_from(["A", "B", None]),
            "score": st.integers(-5, 100),
            "tags": st.lists(st.sampled_from(["vip", "math"]), unique=True),
            "account_id": st.sampled_from(["acme", None]),
            "first_name": st.sampled_from(FIRST),
            "last_name": st.sampled_from(LAST),
        }
    ),
    max_size=30,
)
criteria = st.fixed_dictionaries(
    {},
    optional={
        "stage": st.sampled_from(STAGES),
        "grade": st.sampled_from(["A", "B"]),
        "score_min": st.integers(0, 60),
        "score_max": st.integers(40, 100),
        "tag": st.sampled_from(["vip", "math"]),
        "account": st.just("acme"),
        "name": st.sampled_from(["al", "Ada", "alan t", "gr"]),
    },
)


def _docs(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**d, "contact_id": f"c{i:03d}", "email": f"p{i}@example.com"} for i, d in enumerate(raw)
    ]


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(raw=docs_strategy, body=criteria, limit=st.integers(1, 7))
def test_pages_together_are_exactly_the_matching_contacts(
    raw: list[dict[str, Any]], body: dict[str, Any], limit: int
) -> None:
    if body.get("score_min", 0) > body.get("score_max", 100):
        return
    docs = _docs(raw)
    index = MemoryIndex(docs)
    request = s.SearchRequest.model_validate(body)
    expected = {d["contact_id"] for d in docs if s.matches(request, d)}
    got: list[str] = []
    cursor = None
    for _ in range(200):
        index.reads = 0
        page = s.search(index, {**body, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert index.reads <= s.MAX_READ
        assert len(page["contacts"]) <= limit
        got += [c["contact_id"] for c in page["contacts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(got) == len(set(got))
    assert set(got) == expected


def test_the_plan_uses_the_most_selective_index() -> None:
    plan = s.plan(s.SearchRequest(account="acme", stage="lead", name="ada"))
    assert [q.index for q in plan] == ["ByAccount"]
    assert [q.index for q in s.plan(s.SearchRequest(name="Ådä L", grade="A"))] == ["ByName"]
    assert s.plan(s.SearchRequest(name="Ådä L"))[0].prefix == "ada l"
    assert [q.hash_value for q in s.plan(s.SearchRequest(score_min=3))] == list(s.STAGES)
    grade = s.plan(s.SearchRequest(grade="B", score_min=10, score_max=20))
    assert [(q.index, q.low, q.high) for q in grade] == [("ByGrade", 10, 20)]


@pytest.mark.parametrize(
    ("cursor", "body"),
    [
        ("%%%", {"stage": "lead"}),
        (encode_cursor({"q": 5, "k": None}), {"stage": "lead"}),
        (
            encode_cursor(
                {"q": 0, "k": {"pk": "CONTACT#x", "sk": "PROFILE", "stage": "mql", "score": 1}}
            ),
            {"stage": "lead"},
        ),
        (
            encode_cursor(
                {"q": 0, "k": {"pk": "CONTACT#x", "sk": "PROFILE", "stage": "lead", "score": "1"}}
            ),
            {"stage": "lead"},
        ),
        (
            encode_cursor({"q": 0, "k": {"pk": "CONTACT#x", "sk": "PROFILE", "stage": "lead"}}),
            {"stage": "lead"},
        ),
        (encode_cursor(["q"]), {"stage": "lead"}),
    ],
)
def test_a_cursor_from_elsewhere_is_a_400_on_the_cursor(cursor: str, body: dict[str, Any]) -> None:
    with pytest.raises(AdminError) as refused:
        s.search(MemoryIndex([]), {**body, "cursor": cursor})
    assert (refused.value.status, refused.value.field) == (400, "cursor")


def test_name_keys_fold_case_and_accents() -> None:
    keys = search_keys("lead", None, None, "Ådä", "  Lovelace ")
    assert keys["name_key"] == "ada lovelace" and keys["name_prefix"] == "ad"
    assert "name_key" not in search_keys("lead", None, None, None, None)
