"""The JSONPath bridge (moto_speed._install_json_path_cache) answers as moto does.

Step Functions' paths (InputPath, ResultPath, Parameters' `.$`, Choice variables) go
through moto's `extract_json`; the bridge parses each path once. Every path here is
evaluated repeatedly, over different documents, with the bridge and with moto's own code
(`moto_as_shipped()`): the values and the errors must be the same, and a cached expression
must not carry anything from one document to the next."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.utils import json_path

from localcloud.moto_speed import install_speedups, moto_as_shipped

pytestmark = pytest.mark.integration

PATHS = [
    "$",
    "$.contact_id",
    "$.job.params.template",
    "$.items[0]",
    "$.items[1].name",
    "$.items[*].name",
    "$.items[0:2]",
    "$[*]",
    "$.missing",
    "$.job.missing.deeper",
    "$.items[?(@.n > 1)].name",
    "$.items.length()",
    "$['odd key']",
    "$.nested.list[-1]",
]
DOCUMENTS: list[Any] = [
    {
        "contact_id": "c-1",
        "job": {"params": {"template": "welcome-1"}},
        "items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}, {"name": "c", "n": 3}],
        "odd key": True,
        "nested": {"list": [1, 2, 3]},
    },
    {"contact_id": "c-2", "items": [], "nested": {"list": []}},
    {"items": [{"name": "only", "n": 5}], "job": {"params": {}}, "odd key": None},
    [1, 2, 3],
]


def _evaluate() -> list[Any]:
    out: list[Any] = []
    for _round in range(3):  # a cached expression, used again on other documents
        for document in DOCUMENTS:
            for path in PATHS:
                data = copy.deepcopy(document)
                try:
                    out.append(("ok", path, json_path.extract_json(path, data)))
                except Exception as exc:  # noqa: BLE001 - the error is part of the answer
                    out.append(("error", path, type(exc).__name__, str(exc)))
                assert data == document  # evaluation never changes the document
    return out


def test_json_paths_answer_as_moto_does() -> None:
    install_speedups()
    bridged = _evaluate()
    with moto_as_shipped():
        assert not hasattr(json_path.parse, "cache_info")  # moto's own parse, uncached
        shipped = _evaluate()
    assert len(bridged) == len(shipped)
    for ours, theirs in zip(bridged, shipped, strict=True):
        assert ours == theirs
    # the scenario reaches values, lists and errors
    kinds = {entry[0] for entry in bridged}
    assert kinds == {"ok", "error"}
    assert any(entry[0] == "ok" and isinstance(entry[2], list) for entry in bridged)


def test_each_path_is_parsed_once() -> None:
    install_speedups()
    parse = json_path.parse
    parse.cache_clear()  # type: ignore[attr-defined]
    _evaluate()
    info = parse.cache_info()  # type: ignore[attr-defined]
    parsed = [path for path in PATHS if _parses(path)]
    evaluations = 3 * len(DOCUMENTS)
    assert 0 < len(parsed) < len(PATHS)  # a path moto cannot parse is among them
    assert info.currsize == len(parsed)  # each parsed once, kept
    # a path that does not parse raises every time, as in moto (nothing cached)
    assert info.misses == len(parsed) + (len(PATHS) - len(parsed)) * evaluations
    assert info.hits == len(parsed) * (evaluations - 1)


def _parses(path: str) -> bool:
    with moto_as_shipped():
        try:
            json_path.parse(path)
        except Exception:  # noqa: BLE001 - jsonpath_ng raises several kinds
            return False
    return True
