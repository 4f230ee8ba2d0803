"""Reading a program file with a line map, and saying what is wrong in plain words.

`load_with_lines(text)` parses YAML (safe loader) and records where every mapping key and
value starts, so a problem found at a path such as ("steps", 3, "next") is reported as
"line 27, column 11". Duplicate keys (which YAML would silently let the last one win) are
problems too.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

Loc = tuple[str | int, ...]


@dataclass
class Located:
    data: Any
    # path -> (line, column) of the value; for mapping entries also of the key
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[tuple[Loc, tuple[int, int]]] = field(default_factory=list)

    def position(self, loc: Loc) -> tuple[Loc, tuple[int, int] | None]:
        """The deepest part of `loc` that is in the file, and its (line, column), 1-based."""
        resolved = self.resolve(loc)
        while resolved:
            where = self.keys.get(resolved) or self.values.get(resolved)
            if where:
                return resolved, where
            resolved = resolved[:-1]
        return (), self.values.get(())

    def resolve(self, loc: Loc) -> Loc:
        """Map a validation error's location onto the data: pydantic puts union tags
        (e.g. the step type) into locations; skip the parts that are not in the file."""
        best: Loc = ()

        def walk(node: Any, rest: Loc, path: Loc) -> None:
            nonlocal best
            if len(path) > len(best):
                best = path
            if not rest:
                return
            head, tail = rest[0], rest[1:]
            inside = (isinstance(node, dict) and head in node) or (
                isinstance(node, list) and isinstance(head, int) and 0 <= head < len(node)
            )
            if inside:
                walk(node[head], tail, (*path, head))
            walk(node, tail, path)  # `head` may be a union tag: try without it

        walk(self.data, tuple(loc), ())
        return best


class _Loader(yaml.SafeLoader):
    pass


def load_with_lines(text: str) -> Located:
    """Parse YAML, keeping each node's position. Raises yaml.YAMLError."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        located = Located(data=None)
        if node is not None:
            _map(node, (), located)
            located.data = loader.construct_document(node)
        return located
    finally:
        loader.dispose()


def parse_mapping(source: str, shape: str) -> tuple[Located | None, list[dict[str, Any]]]:
    """The file parsed with locations, and the problems found before model validation: YAML
    errors, keys given twice, and a top level that is not a mapping (`shape` says what it
    should be, e.g. "a program is a mapping with id, name, trigger and steps"). None when
    there is nothing to validate."""
    try:
        located = load_with_lines(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        entry: dict[str, Any] = {"where": "(file)"}
        if mark is not None:
            entry.update(line=mark.line + 1, column=mark.column + 1)
        entry["problem"] = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        return None, [entry]
    problems = [
        problem_entry(located, loc, f"`{loc[-1]}` is given twice; keep one")
        | {"line": mark[0], "column": mark[1]}
        for loc, mark in located.duplicates
    ]
    if not isinstance(located.data, dict):
        problems.append({"where": "(file)", "line": 1, "column": 1, "problem": shape})
        return None, problems
    return located, problems


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _map(node: yaml.Node, path: Loc, located: Located) -> None:
    located.values.setdefault(path, _mark(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                continue
            if key in seen:
                located.duplicates.append(((*path, key), _mark(key_node)))
            seen.add(key)
            located.keys[(*path, key)] = _mark(key_node)
            _map(value_node, (*path, key), located)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map(item, (*path, index), located)


def where_text(loc: Loc, step: str | None = None) -> str:
    out = ""
    for number, part in enumerate(loc):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        if step and number == 1 and loc[0] == "steps":
            out += f" ({step})"
    return out or "(file)"


def problem_entry(
    located: Located | None,
    loc: Loc,
    message: str,
    step: str | None = None,
    missing: str | None = None,
) -> dict[str, Any]:
    """One entry of a status report: where (path, line, column, step) and the problem.
    `missing`: the name of a required key that is absent (reported at its parent)."""
    entry: dict[str, Any] = {}
    path = loc
    mark = None
    if located is not None:
        resolved, mark = located.position(loc)
        path = resolved if resolved or not loc else loc
        if missing and (not path or path[-1] != missing):
            path = (*path, missing)
        if step is None and len(resolved) >= 2 and resolved[0] == "steps":
            item = located.data["steps"][resolved[1]]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                step = item["id"]
    entry["where"] = where_text(path, step)
    if mark:
        entry["line"], entry["column"] = mark
    if step:
        entry["step"] = step
    entry["problem"] = message
    return entry


def _known_names() -> list[str]:
    from pydantic import BaseModel

    from nurture.programs import conditions, model

    names: set[str] = set()
    for module in (model, conditions):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel:
                for name, info in value.model_fields.items():
                    names.add(info.alias or name)
    return sorted(names)


def explain(error: Any, located: Located | None) -> str:
    """A pydantic error in plain words."""
    kind, loc, msg = error["type"], error["loc"], error["msg"]
    last = next((p for p in reversed(loc) if isinstance(p, str)), None)
    if kind == "missing":
        return f"`{last}` is required here"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(last), _known_names(), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"`{last}` is not a setting here{hint}"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        if ctx.get("discriminator") == "'type'":
            from nurture.programs.model import STEP_TYPES

            given = ctx.get("tag")
            close = difflib.get_close_matches(str(given), STEP_TYPES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            return f"unknown step type {given!r}.{hint} The step types are: {', '.join(STEP_TYPES)}"
    if kind == "union_tag_not_found" and error.get("ctx", {}).get("discriminator") == "'type'":
        return "a step needs `type` (send_email, wait, branch, ...)"
    if kind == "string_pattern_mismatch" and last in ("id", "program"):
        return (
            "ids use lower-case letters, digits and '-', start with a letter or digit, at most 40"
        )
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind in ("condition_kind", "trigger_kind"):
        return msg
    return msg


def validation_problems(exc: ValidationError, located: Located | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        missing = (
            loc[-1] if error["type"] == "missing" and loc and isinstance(loc[-1], str) else None
        )
        entry = problem_entry(located, loc, explain(error, located), missing=missing)
        key = (entry["where"], entry["problem"])
        if key not in seen:  # unions repeat the same complaint per alternative
            seen.add(key)
            out.append(entry)
    return out
