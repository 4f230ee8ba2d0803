"""One entry point for every report, shared by `nurture report` and the admin API: the
parameters arrive as strings, are checked (a clear message per field), and the report runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from nurture.reporting import reports
from nurture.reporting.ports import ProgramCatalog, SqlEngine

REPORTS = ("funnel", "ab", "attribution", "statuses", "pipeline", "review")
ProgramId = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", description="the program's id")


class ReportError(ValueError):
    """Bad parameters: `errors` says which field and why."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


class _Params(BaseModel):
    # defer_build: built by the first report asked for, not at import (#9 cold starts)
    model_config = ConfigDict(extra="forbid", defer_build=True)

    since: date | None = Field(default=None, description="first day (UTC), default: 30 days ago")
    until: date | None = Field(default=None, description="last day (UTC), default: today")

    @field_validator("until")
    @classmethod
    def _order(cls, until: date | None, info: ValidationInfo) -> date | None:
        since = info.data.get("since")
        if since and until and until < since:
            raise ValueError("until must not be before since")
        if since and until and (until - since).days > 3660:
            raise ValueError("the period may be at most ten years")
        return until

    def period(self, today: date) -> reports.Period:
        until = self.until or today
        return reports.Period(self.since or until - timedelta(days=29), until)


class ProgramParams(_Params):
    program: str = ProgramId


class StatusParams(ProgramParams):
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class AttributionParams(_Params):
    of: Literal["revenue", "contacts"] = Field(
        default="revenue", description="revenue credit, or which touch created the contacts"
    )
    group_by: reports.Dimension = "channel"
    model: Literal["all", *reports.MODELS] = "all"  # type: ignore[valid-type]
    lookback_days: int = Field(default=90, ge=1, le=730)
    half_life_days: float = Field(default=7.0, gt=0, le=365)


class PipelineParams(_Params):
    lookback_days: int = Field(default=90, ge=1, le=730)


class ReviewParams(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # as _Params
    stale_days: int = Field(default=90, ge=1, le=3650)
    edited_stale_days: int = Field(default=365, ge=1, le=3650)


PARAMS: dict[str, type[BaseModel]] = {
    "funnel": ProgramParams,
    "ab": ProgramParams,
    "attribution": AttributionParams,
    "statuses": StatusParams,
    "pipeline": PipelineParams,
    "review": ReviewParams,
}


def parse(report: str, raw: dict[str, Any]) -> BaseModel:
    if report not in PARAMS:
        raise ReportError(
            [{"field": "report", "reason": f"unknown report; one of {', '.join(REPORTS)}"}]
        )
    try:
        return PARAMS[report].model_validate({k.replace("-", "_"): v for k, v in raw.items()})
    except ValidationError as exc:
        raise ReportError(
            [
                {
                    "field": ".".join(str(p) for p in e["loc"]) or "(parameters)",
                    "reason": e["msg"].removeprefix("Value error, "),
                }
                for e in exc.errors(include_url=False)
            ]
        ) from None


def run(
    report: str,
    raw: dict[str, Any],
    engine: SqlEngine,
    catalog: ProgramCatalog,
    today: date,
) -> dict[str, Any]:
    params = parse(report, raw)
    handlers: dict[str, Callable[[], dict[str, Any]]] = {}
    if isinstance(params, ProgramParams):
        program = catalog.get(params.program)
        period = params.period(today)
        handlers = {
            "funnel": lambda: reports.funnel(engine, params.program, period, program),
            "ab": lambda: reports.ab(engine, params.program, period, program),
        }
        if isinstance(params, StatusParams):
            handlers["statuses"] = lambda: reports.statuses(
                engine, params.program, period, params.limit, params.offset
            )
    elif isinstance(params, AttributionParams):
        period = params.period(today)
        if params.of == "contacts":
            return reports.created_by(engine, period, params.group_by, params.lookback_days)
        result = reports.attribution(
            engine, period, params.group_by, params.lookback_days, params.half_life_days
        )
        if params.model != "all":
            result["model"] = params.model
            result["rows"] = [
                {params.group_by: r[params.group_by], params.model: r[params.model]}
                for r in result["rows"]
            ]
        return result
    elif isinstance(params, PipelineParams):
        return reports.pipeline(engine, params.period(today), params.lookback_days)
    elif isinstance(params, ReviewParams):
        return reports.review(
            engine, catalog.programs(), today, params.stale_days, params.edited_stale_days
        )
    return handlers[report]()
