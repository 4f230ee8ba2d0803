"""Contact search for the console, without reading the whole table.

A search picks one index key to read (the most selective one given), and checks every other
criterion on the profiles it reads:

- `email`: an exact lookup of the `ACTOR#email:<address>` item (one GetItem);
- `account`: the ByAccount index (account id, score);
- `name`: the ByName index, a prefix of the folded full name "first last" (at least two
  characters; the index's hash key is the first two);
- `grade`, `stage`: the ByGrade / ByStage index, with `score_min`/`score_max` as a range
  on its sort key (the score);
- only a score range and/or a tag: the ByStage index stage by stage (each stage's contacts
  in the range, highest score first).

Pages are bounded: one request reads at most MAX_READ index entries (and their profiles,
one BatchGetItem per 100); when a rare criterion (a tag) leaves the page short, the answer
has fewer than `limit` contacts and a `next_cursor` to go on. A tag alone therefore walks
the stage index a page at a time: combine it with a stage, grade or account to narrow it.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nurture.admin.errors import AdminError, decode_cursor, encode_cursor, parse
from nurture.admin.keys import NAME_PREFIX_CHARS, name_key
from nurture.admin.ports import ContactIndex, IndexQuery, Key
from nurture.contacts import LifecycleStage, normalise_email

MAX_READ = 300  # index entries one request reads at most
STAGES: tuple[str, ...] = get_args(LifecycleStage)
SCORE_LIMIT = 10**6


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, min_length=3, max_length=320, pattern=r"@")
    name: str | None = Field(default=None, min_length=NAME_PREFIX_CHARS, max_length=100)
    stage: LifecycleStage | None = None
    grade: Literal["A", "B", "C", "D", "E", "F"] | None = None
    score_min: int | None = Field(default=None, ge=-SCORE_LIMIT, le=SCORE_LIMIT)
    score_max: int | None = Field(default=None, ge=-SCORE_LIMIT, le=SCORE_LIMIT)
    tag: str | None = Field(default=None, min_length=1, max_length=100)
    account: str | None = Field(default=None, min_length=1, max_length=200)
    cursor: str | None = Field(default=None, max_length=4000)
    limit: int = Field(default=25, ge=1, le=100)

    @model_validator(mode="after")
    def _range(self) -> SearchRequest:
        low, high = self.score_min, self.score_max
        if low is not None and high is not None and high < low:
            raise ValueError("score_max must not be below score_min")
        if self.name is not None and len(name_key(self.name, None)) < NAME_PREFIX_CHARS:
            raise ValueError(f"name needs at least {NAME_PREFIX_CHARS} letters")
        return self


def plan(request: SearchRequest) -> list[IndexQuery]:
    """The index queries that find every contact the request can match, in answer order."""
    low, high = request.score_min, request.score_max
    if request.account:
        return [IndexQuery("ByAccount", "account_id", request.account, low, high)]
    if request.name:
        key = name_key(request.name, None)
        return [
            IndexQuery(
                "ByName", "name_prefix", key[:NAME_PREFIX_CHARS], prefix=key, descending=False
            )
        ]
    if request.grade:
        return [IndexQuery("ByGrade", "grade", request.grade, low, high)]
    stages = [request.stage] if request.stage else list(STAGES)
    return [IndexQuery("ByStage", "stage", stage, low, high) for stage in stages]


def matches(request: SearchRequest, doc: dict[str, Any]) -> bool:
    """Whether a profile meets every criterion (the index met one of them)."""
    score = int(doc.get("score") or 0)
    checks = [
        request.stage is None or doc.get("stage") == request.stage,
        request.grade is None or doc.get("grade") == request.grade,
        request.score_min is None or score >= request.score_min,
        request.score_max is None or score <= request.score_max,
        request.tag is None or request.tag in (doc.get("tags") or []),
        request.account is None or doc.get("account_id") == request.account,
        request.name is None
        or name_key(doc.get("first_name"), doc.get("last_name")).startswith(
            name_key(request.name, None)
        ),
        request.email is None
        or normalise_email(str(doc.get("email") or "")) == normalise_email(request.email),
    ]
    return all(checks)


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """One contact as a search lists it."""
    name = " ".join(p for p in (doc.get("first_name"), doc.get("last_name")) if p) or None
    predictive = doc.get("predictive_score")
    return {
        "contact_id": doc["contact_id"],
        "email": doc.get("email"),
        "name": name,
        "stage": doc.get("stage"),
        "grade": doc.get("grade"),
        "score": int(doc.get("score") or 0),
        "predictive_score": int(predictive) if isinstance(predictive, (int, float)) else None,
        "tags": list(doc.get("tags") or []),
        "account_id": doc.get("account_id"),
        "last_seen": doc.get("last_seen") or doc.get("updated_at"),
    }


def _start(request: SearchRequest, queries: list[IndexQuery]) -> tuple[int, Key | None]:
    if request.cursor is None:
        return 0, None
    cursor = decode_cursor(request.cursor)
    at, key = cursor.get("q"), cursor.get("k")
    if not isinstance(at, int) or not 0 <= at < len(queries):
        raise AdminError(400, "the cursor is from another search", "cursor")
    if key is None:
        return at, None
    query = queries[at]
    range_name = "name_key" if query.index == "ByName" else "score"
    if (
        not isinstance(key, dict)
        or set(key) != {"pk", "sk", query.hash_name, range_name}
        or key[query.hash_name] != query.hash_value
        or not all(isinstance(key[n], str) for n in ("pk", "sk", query.hash_name))
        or not isinstance(key[range_name], str if range_name == "name_key" else int)
    ):
        raise AdminError(400, "the cursor is from another search", "cursor")
    return at, key


def search(index: ContactIndex, body: Any) -> dict[str, Any]:
    request = parse(SearchRequest, body)
    if request.email:
        contact_id = index.contact_for_email(normalise_email(request.email))
        docs = index.profiles([contact_id]) if contact_id else {}
        found = [summary(d) for d in docs.values() if matches(request, d)]
        return {"contacts": found, "next_cursor": None}
    queries = plan(request)
    at, start = _start(request, queries)
    contacts: list[dict[str, Any]] = []
    read = 0
    while at < len(queries) and len(contacts) < request.limit and read < MAX_READ:
        want = min(request.limit - len(contacts), MAX_READ - read)
        rows, last = index.query(queries[at], start, want)
        read += len(rows)
        docs = index.profiles([cid for cid, _ in rows])
        contacts += [
            summary(docs[cid]) for cid, _ in rows if cid in docs and matches(request, docs[cid])
        ]
        if last is None:
            at, start = at + 1, None
        else:
            start = last
    if at >= len(queries):
        return {"contacts": contacts, "next_cursor": None}
    return {"contacts": contacts, "next_cursor": encode_cursor({"q": at, "k": start})}
