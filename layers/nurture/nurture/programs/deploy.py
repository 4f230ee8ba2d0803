"""Deploying a program file: validate, compile, publish a version, move the `live` alias,
and report next to the file (programs/<id>.status.json). An invalid file never replaces what
is live; its report names each problem with its line and column in the YAML.

The file's `status` is applied too: `live` takes entries, `paused` takes none (running
contacts go on), `archived` takes none and stops the running contacts (their executions and
their pending resume schedules)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from nurture import clock
from nurture.ports import BlobStore, DefinitionRefused, ProgramRecord, StateStore
from nurture.programs.compiler import RESUME_SUFFIX, check_program, compile_program
from nurture.programs.conditions import describe
from nurture.programs.model import (
    DateTrigger,
    EventTrigger,
    FieldChangedTrigger,
    FormTrigger,
    InactivityTrigger,
    NotifySales,
    Program,
    ScoreCrossedTrigger,
    SegmentTrigger,
    SendEmail,
    SendSms,
    StageChangedTrigger,
    StartProgram,
    Webhook,
    trigger_keys,
)
from nurture.programs.source import (
    Located,
    load_with_lines,
    parse_mapping,
    problem_entry,
    validation_problems,
)
from nurture.rendering import TemplateProblem, check_template, sample_context

# What the program's long waits name while only validating (the real version is known once
# the resume machine is published).
RESUME_PLACEHOLDER = "arn:aws:states:us-east-1:000000000000:stateMachine:validate_resume:1"


class StateMachines(Protocol):
    def validate(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Step Functions' ValidateStateMachineDefinition answer: {result: OK | FAIL,
        diagnostics: [{severity, code, message, location}]}."""

    def publish(self, name: str, definition: dict[str, Any], description: str) -> tuple[str, str]:
        """Create or update the machine, publish a version, point `live` at it.
        Returns (alias arn, version number). Raises DefinitionRefused."""

    def stop_running(self, name: str, cause: str) -> int:
        """Stop every running execution of the machine; returns how many were stopped."""


class ResumeSchedules(Protocol):
    def delete_for_program(self, program_id: str) -> int:
        """Delete the pending resume schedules of a program; returns how many."""


@dataclass
class DeployResult:
    program_id: str
    ok: bool
    problems: list[dict[str, Any]]
    version: str | None = None
    alias_arn: str | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)


def status_key(program_key: str) -> str:
    return program_key.removesuffix(".yaml").removesuffix(".yml") + ".status.json"


def _render_problem(text: str) -> str | None:
    # jinja2 imported here, not with the module: the deploy function's cold import
    from jinja2 import StrictUndefined, TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    strict_text = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
    try:
        strict_text.from_string(text).render(sample_context())
    except TemplateError as exc:
        return f"template error: {exc}"
    return None


def validate_source(
    source: str, blobs: BlobStore | None = None
) -> tuple[Program | None, list[dict[str, Any]]]:
    """The program in `source` and every problem with it (each with where/line/column/problem).
    With `blobs`, also checks the email templates it names exist and render for any contact."""
    located, problems = parse_mapping(
        source, "a program is a mapping with id, name, trigger and steps"
    )
    if located is None:
        return None, problems
    try:
        program = Program.model_validate(located.data)
    except ValidationError as exc:
        return None, problems + validation_problems(exc, located)
    problems += [problem_entry(located, p.loc, p.message, p.step) for p in check_program(program)]
    problems += _content_problems(program, located, blobs)
    return program, problems


def _content_problems(
    program: Program, located: Located, blobs: BlobStore | None
) -> list[dict[str, Any]]:
    problems = []
    for index, step in enumerate(program.steps):
        templates: list[tuple[str, str]] = []
        if isinstance(step, (SendEmail, NotifySales)) and step.template:
            templates.append(("template", step.template))
        for name, template_id in templates:
            if blobs is None:
                continue
            try:
                check_template(blobs, template_id)
            except TemplateProblem as exc:
                problems.append(problem_entry(located, ("steps", index, name), str(exc), step.id))
        texts: list[tuple[str, str]] = []
        if isinstance(step, SendSms):
            texts.append(("text", step.text))
        elif isinstance(step, NotifySales) and step.message:
            texts.append(("message", step.message))
        elif isinstance(step, Webhook) and isinstance(step.body, str):
            texts.append(("body", step.body))
        for name, text in texts:
            problem = _render_problem(text)
            if problem:
                problems.append(problem_entry(located, ("steps", index, name), problem, step.id))
    return problems


def _warnings(program: Program, located: Located, blobs: BlobStore) -> list[dict[str, Any]]:
    out = []
    for index, step in enumerate(program.steps):
        if (
            isinstance(step, StartProgram)
            and blobs.get_text(f"programs/{step.program}.yaml") is None
        ):
            out.append(
                problem_entry(
                    located,
                    ("steps", index, "program"),
                    f"there is no programs/{step.program}.yaml yet; until there is, this step "
                    "starts nothing",
                    step.id,
                )
            )
    return out


def describe_trigger(trigger: Any) -> str:
    if isinstance(trigger, FormTrigger):
        return f"the form {trigger.form!r} is submitted"
    if isinstance(trigger, EventTrigger):
        what = "a page view" if trigger.event == "page" else f"the event {trigger.event!r}"
        if trigger.where:
            what += " where " + ", ".join(f"{k} {v!r}" for k, v in trigger.where.items())
        return what
    if isinstance(trigger, FieldChangedTrigger):
        return f"the field {trigger.field_changed!r} changes"
    if isinstance(trigger, StageChangedTrigger):
        change = trigger.stage_changed
        return (
            "the lifecycle stage changes"
            + (f" to {change.to}" if change.to else "")
            + (f" from {change.from_}" if change.from_ else "")
        )
    if isinstance(trigger, ScoreCrossedTrigger):
        which = "predictive score" if trigger.model == "predictive" else "score"
        return f"the {which} goes {trigger.direction} across {trigger.score_crossed}"
    if isinstance(trigger, DateTrigger):
        offset = f" {trigger.offset}" if trigger.offset else ""
        return f"the date in {trigger.date!r}{offset} ({trigger.repeat}) at {trigger.time_of_day}"
    if isinstance(trigger, InactivityTrigger):
        return f"no {trigger.inactivity!r} for {trigger.days} days"
    if isinstance(trigger, SegmentTrigger):
        how = "once, for who matches now" if trigger.once else "whoever matches, now or later"
        return f"{describe(trigger.segment)} ({how})"
    return str(trigger)


def summary(program: Program) -> dict[str, Any]:
    entry = program.entry
    return {
        "name": program.name,
        "trigger": describe_trigger(program.trigger),
        "entry": entry.mode + (f" {entry.once_per}" if entry.once_per is not None else ""),
        "entry_conditions": [describe(c) for c in entry.conditions],
        "goals": [g.label for g in program.goals],
        "steps": len(program.steps),
        "step_types": sorted({s.type for s in program.steps}),
    }


def _refusal_problem(
    program: Program, located: Located, diagnostic: dict[str, Any]
) -> dict[str, Any]:
    """A Step Functions diagnostic as a problem at the program line it comes from: the state
    `/States/<name>/...` belongs to the step named <name> or "<name>: <helper>"; a step's
    `Parameters/Payload/params/...` are its own fields."""
    parts = [
        part.replace("~1", "/").replace("~0", "~")
        for part in str(diagnostic.get("location") or "").split("/")[1:]
    ]
    loc: tuple[str | int, ...] = ()
    step_id = None
    if len(parts) >= 2 and parts[0] == "States":
        for index, step in enumerate(program.steps):
            if parts[1] == step.id or parts[1].startswith(f"{step.id}: "):
                loc, step_id = ("steps", index), step.id
                rest = parts[2:]
                if parts[1] == step.id and rest[:3] == ["Parameters", "Payload", "params"]:
                    loc += tuple(int(p) if p.isdigit() else p for p in rest[3:])
                break
    code = diagnostic.get("code")
    message = f"{code}: {diagnostic['message']}" if code else diagnostic["message"]
    where = (
        f" (state machine location {diagnostic['location']})" if diagnostic.get("location") else ""
    )
    return problem_entry(
        located,
        loc or ("steps",),
        f"Step Functions refuses the compiled program: {message}{where}",
        step_id,
    )


def deploy_program(
    key: str,
    blobs: BlobStore,
    machines: StateMachines,
    state: StateStore,
    steps_function_arn: str,
    schedules: ResumeSchedules | None = None,
) -> DeployResult:
    source = blobs.get_text(key)
    if source is None:
        return DeployResult(
            program_id=key, ok=False, problems=[{"where": key, "problem": "file not found"}]
        )
    program, problems = validate_source(source, blobs)
    file_id = key.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
    if program is not None and program.id != file_id:
        located = load_with_lines(source)
        problems.append(
            problem_entry(
                located, ("id",), f"id {program.id!r} must match the file name {file_id!r}"
            )
        )
    report: dict[str, Any] = {"file": key, "checked_at": clock.iso(clock.now())}
    previous = state.get_program(file_id)
    if program is None or problems:
        report.update(
            status="invalid",
            problems=problems,
            live_version=previous.version if previous else None,
            note="Nothing was deployed: the live version, if any, is unchanged.",
        )
        blobs.put_text(status_key(key), json.dumps(report, indent=2), "application/json")
        return DeployResult(program_id=file_id, ok=False, problems=problems)
    located = load_with_lines(source)
    warnings = _warnings(program, located, blobs)
    # A program with long waits gets two machines: its own (a fresh run starts at the
    # first step) and the resume machine (resumed runs enter through "resume?"), published
    # first so the program's long waits can name its version.
    compiled = compile_program(program, steps_function_arn, resume_arn=RESUME_PLACEHOLDER)
    # Step Functions' own checks first: a definition it refuses must not replace the live one.
    refused: list[dict[str, Any]] = []
    for definition in (compiled.resume_definition, compiled.definition):
        if definition is None:
            continue
        answer = machines.validate(definition)
        if answer.get("result") == "FAIL":
            refused += [
                _refusal_problem(program, located, d) for d in answer.get("diagnostics", [])
            ]
    if not refused:
        try:
            if compiled.resume_definition is not None:
                resume_alias, resume_version = machines.publish(
                    program.id + RESUME_SUFFIX,
                    compiled.resume_definition,
                    f"{program.name} (resumed runs)"[:250],
                )
                resume_arn = f"{resume_alias.rsplit(':', 1)[0]}:{resume_version}"
                compiled = compile_program(program, steps_function_arn, resume_arn=resume_arn)
            alias_arn, version = machines.publish(
                program.id, compiled.definition, f"{program.name}"[:250]
            )
        except DefinitionRefused as exc:
            refused = [_refusal_problem(program, located, {"message": str(exc)})]
    if refused:
        report.update(
            status="invalid",
            problems=refused,
            live_version=previous.version if previous else None,
            note="Step Functions refused the compiled program, so nothing was deployed: the "
            "live version, if any, is unchanged.",
        )
        blobs.put_text(status_key(key), json.dumps(report, indent=2), "application/json")
        return DeployResult(program_id=program.id, ok=False, problems=refused)
    state.register_program(
        ProgramRecord(
            program_id=program.id,
            status=program.status,
            alias_arn=alias_arn,
            version=version,
            triggers=[] if program.status == "archived" else trigger_keys(program),
            definition=program.model_dump(mode="json", by_alias=True),
        )
    )
    report.update(
        status=program.status,
        version=version,
        alias_arn=alias_arn,
        summary=summary(program),
        steps=[s.id for s in program.steps],
        state_transitions_per_run=compiled.transitions_per_run,
        resume_points=compiled.resume_points,
    )
    if program.status == "archived":
        cause = f"program {program.id} archived"
        report["stopped_runs"] = machines.stop_running(program.id, cause)
        if compiled.resume_definition is not None:
            report["stopped_runs"] += machines.stop_running(program.id + RESUME_SUFFIX, cause)
        report["cancelled_resumes"] = schedules.delete_for_program(program.id) if schedules else 0
    if warnings:
        report["warnings"] = warnings
    blobs.put_text(status_key(key), json.dumps(report, indent=2), "application/json")
    return DeployResult(
        program_id=program.id,
        ok=True,
        problems=[],
        version=version,
        alias_arn=alias_arn,
        warnings=warnings,
    )
