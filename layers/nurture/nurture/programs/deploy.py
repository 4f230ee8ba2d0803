"""Deploying a program file: validate, compile, publish a version, move the `live` alias,
and report next to the file. An invalid file never replaces what is live."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import yaml
from pydantic import ValidationError

from nurture import clock
from nurture.ports import BlobStore, ProgramRecord, StateStore
from nurture.programs.compiler import check_program, compile_program
from nurture.programs.model import Program, SendEmail, trigger_keys
from nurture.rendering import TemplateProblem, check_template


class StateMachines(Protocol):
    def publish(self, name: str, definition: dict[str, Any], description: str) -> tuple[str, str]:
        """Create or update the machine, publish a version, point `live` at it.
        Returns (alias arn, version number)."""


@dataclass
class DeployResult:
    program_id: str
    ok: bool
    problems: list[dict[str, str]]
    version: str | None = None
    alias_arn: str | None = None


def status_key(program_key: str) -> str:
    return program_key.removesuffix(".yaml").removesuffix(".yml") + ".status.json"


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def validate_source(source: str, blobs: BlobStore) -> tuple[Program | None, list[dict[str, str]]]:
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        return None, [
            {"where": where, "problem": f"not valid YAML: {getattr(exc, 'problem', exc)}"}
        ]
    try:
        program = Program.model_validate(data)
    except ValidationError as exc:
        return None, [
            {"where": _where(err["loc"]), "problem": err["msg"]}
            for err in exc.errors(include_url=False)
        ]
    problems = [{"where": p.where, "problem": p.message} for p in check_program(program)]
    for index, step in enumerate(program.steps):
        if isinstance(step, SendEmail):
            try:
                check_template(blobs, step.template)
            except TemplateProblem as exc:
                problems.append(
                    {"where": f"steps[{index}] ({step.id}).template", "problem": str(exc)}
                )
    return program, problems


def deploy_program(
    key: str, blobs: BlobStore, machines: StateMachines, state: StateStore, steps_function_arn: str
) -> DeployResult:
    source = blobs.get_text(key)
    if source is None:
        return DeployResult(
            program_id=key, ok=False, problems=[{"where": key, "problem": "file not found"}]
        )
    program, problems = validate_source(source, blobs)
    file_id = key.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
    if program is not None and program.id != file_id:
        problems.append(
            {"where": "id", "problem": f"id {program.id!r} must match the file name {file_id!r}"}
        )
    report: dict[str, Any] = {"file": key, "checked_at": clock.iso(clock.now())}
    if program is None or problems:
        report.update(
            status="invalid", problems=problems, note="The live version, if any, is unchanged."
        )
        blobs.put_text(status_key(key), json.dumps(report, indent=2), "application/json")
        return DeployResult(program_id=file_id, ok=False, problems=problems)
    compiled = compile_program(program, steps_function_arn)
    alias_arn, version = machines.publish(program.id, compiled.definition, f"{program.name}"[:250])
    state.register_program(
        ProgramRecord(
            program_id=program.id,
            status="live",
            alias_arn=alias_arn,
            version=version,
            triggers=trigger_keys(program),
            definition=program.model_dump(mode="json", by_alias=True),
        )
    )
    report.update(
        status="live",
        version=version,
        alias_arn=alias_arn,
        steps=[s.id for s in program.steps],
        state_transitions_per_run=compiled.transitions_per_run,
    )
    blobs.put_text(status_key(key), json.dumps(report, indent=2), "application/json")
    return DeployResult(
        program_id=program.id, ok=True, problems=[], version=version, alias_arn=alias_arn
    )
