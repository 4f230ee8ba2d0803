"""Read template.yaml (with CloudFormation's short tags) and resolve intrinsic functions."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Callable[[yaml.Loader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        key = "Ref" if name == "Ref" else f"Fn::{name}"
        return {key: value}

    return construct


for _name in (
    "Ref",
    "GetAtt",
    "Sub",
    "Join",
    "Split",
    "Select",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "ImportValue",
    "Base64",
    "GetAZs",
    "Condition",
):
    _Loader.add_constructor(f"!{_name}", _tag(_name))


def load_template(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        data: dict[str, Any] = yaml.load(fh, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    return data


_SUB = re.compile(r"\$\{([^}]+)\}")


class Resolver:
    """Resolves Ref / GetAtt / Sub / Join / Split / Select against the local resources."""

    def __init__(
        self,
        pseudo: dict[str, str],
        refs: dict[str, str],
        attrs: dict[tuple[str, str], str],
        parameters: dict[str, str],
    ):
        self.pseudo = pseudo
        self.refs = refs
        self.attrs = attrs
        self.parameters = parameters

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.refs[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attrs[(logical, attr)]
            if key == "Fn::Sub":
                template, extra = (
                    (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                )

                def sub(match: re.Match[str]) -> str:
                    name = match.group(1)
                    if name.startswith("!"):  # ${!Literal} stands for the text ${Literal}
                        return "${" + name[1:] + "}"
                    if name in extra:
                        return str(extra[name])
                    if "." in name:
                        logical, attr = name.split(".", 1)
                        return self.attrs[(logical, attr)]
                    return self.ref(name)

                return _SUB.sub(sub, template)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(self.resolve(items))
            if key == "Fn::Split":
                sep, text = arg
                return self.resolve(text).split(sep)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
        return {k: self.resolve(v) for k, v in value.items()}
