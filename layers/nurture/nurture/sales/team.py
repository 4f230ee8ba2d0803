"""The sales team as configuration: who the salespeople are, which leads each one owns, what
counts as meaningful activity for them, and where the CRM is.

`sales/team.yaml` in the content bucket (shipped in the repository, synced like programs):

    owners:                       # every salesperson: email, IANA time zone, team
      - {email: anna@example.com, name: Anna, timezone: Europe/Helsinki, team: nordics}
    rules:                        # first match wins
      - {when: {country: [FI, SE]}, team: nordics}        # round robin within the team
      - {when: {industry: [healthcare]}, owner: carl@example.com}
      - {when: {region: [us-east]}, team: us}
    default_owner: sales@example.com
    digest: {hour: 8, exclude: [{event: email.opened}]}   # see DigestSettings
    recycle: {days: 90, reactivate_at_score: 50}
    crm: {url: https://crm.example.com/hooks/nurture, secret: crm}

A rule's `when` matches the contact's profile first, then its account's (country, region,
industry); list values mean "any of", compared case-insensitively.
"""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nurture.contacts import looks_like_email
from nurture.programs.conditions import Where, activity_matches

TEAM_KEY = "sales/team.yaml"
MATCH_FIELDS = ("country", "region", "industry")


class _Strict(BaseModel):
    # defer_build: built when the team file is first read, not when a handler that imports
    # this module starts (#9 cold starts)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _email(value: str) -> str:
    value = value.strip().lower()
    if not looks_like_email(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


class Owner(_Strict):
    email: str
    name: str = ""
    timezone: str = "UTC"
    team: str = ""

    _email_ok = field_validator("email")(_email)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from None
        return value


class Rule(_Strict):
    when: dict[Literal["country", "region", "industry"], str | list[str]]
    owner: str | None = None
    team: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Rule:
        if (self.owner is None) == (self.team is None):
            raise ValueError("a rule names either `owner` or `team`")
        if self.owner is not None:
            object.__setattr__(self, "owner", _email(self.owner))
        return self

    def matches(self, profile: dict[str, str]) -> bool:
        for name, wanted in self.when.items():
            values = [wanted] if isinstance(wanted, str) else wanted
            if profile.get(name, "").lower() not in {v.lower() for v in values}:
                return False
        return True


class ActivityFilter(_Strict):
    """An activity as triggers name one: `event` (a name, `page`, `form:<id>`) and `where`."""

    event: str
    where: Where = Field(default_factory=dict)

    def matches(self, activity: Any) -> bool:
        return activity_matches(self.event, self.where, activity)


# What a salesperson does not need to hear about: opens, deliveries, newsletter reading.
DEFAULT_EXCLUDE: list[dict[str, Any]] = [
    {"event": "email.opened"},
    {"event": "email.clicked", "where": {"topic": "newsletter"}},
    {"event": "page", "where": {"utm.medium": ["email", "newsletter"]}},
    {"event": "page", "where": {"url": {"glob": "*/newsletter*"}}},
]
# Kinds that are something the contact did (the rest is what the system recorded).
CONTACT_KINDS = ("page", "form", "track", "email")
# Of the email events, only these are the contact acting.
CONTACT_EMAIL_EVENTS = ("email.clicked", "email.opened", "email.replied")


class DigestSettings(_Strict):
    hour: int = Field(default=8, ge=0, le=23, description="local hour the digest goes out")
    exclude: list[ActivityFilter] = Field(
        default_factory=lambda: [ActivityFilter.model_validate(f) for f in DEFAULT_EXCLUDE]
    )
    max_contacts: int = Field(default=50, ge=1, le=500)
    max_activities: int = Field(default=5, ge=1, le=50)

    def meaningful(self, activity: Any) -> bool:
        """Something the contact did that shows interest, and not excluded."""
        kind, name = activity.kind, activity.name
        if kind not in CONTACT_KINDS:
            return False
        if kind == "email" and name not in CONTACT_EMAIL_EVENTS:
            return False
        return not any(f.matches(activity) for f in self.exclude)


class RecycleSettings(_Strict):
    days: int = Field(default=90, ge=1, le=3650)
    # After the recycle period, a score at or above this hands the lead back to its owner.
    reactivate_at_score: int = Field(default=50, ge=0)


class CrmSettings(_Strict):
    url: str = ""
    secret: str = "crm"  # noqa: S105 - the entry of the webhook-secrets secret that signs
    timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    max_attempts: int = Field(default=8, ge=1, le=48)


class Team(_Strict):
    owners: list[Owner] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    default_owner: str | None = None
    digest: DigestSettings = Field(default_factory=DigestSettings)
    recycle: RecycleSettings = Field(default_factory=RecycleSettings)
    crm: CrmSettings = Field(default_factory=CrmSettings)

    @model_validator(mode="after")
    def _known_names(self) -> Team:
        if self.default_owner is not None:
            object.__setattr__(self, "default_owner", _email(self.default_owner))
        teams = {o.team for o in self.owners if o.team}
        for index, rule in enumerate(self.rules):
            if rule.team is not None and rule.team not in teams:
                raise ValueError(f"rules[{index}]: no owner is in team {rule.team!r}")
        return self

    def owner(self, email: str | None) -> Owner | None:
        if not email:
            return None
        wanted = email.strip().lower()
        return next((o for o in self.owners if o.email == wanted), None)

    def members(self, team: str) -> list[Owner]:
        """A team's members in a stable order (the round robin's order)."""
        return sorted((o for o in self.owners if o.team == team), key=lambda o: o.email)


class TeamProblem(ValueError):
    """What is wrong with the file. The message may quote its values (the operator's CLI shows
    it); `fields` names only where, for logs, which must not carry the team's addresses."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


def parse_team(source: str | None) -> Team:
    """The team from its YAML (no file: an empty team, so nothing is assigned)."""
    if not source:
        return Team()
    import yaml  # here, not at import: the handlers importing this module read the file later

    try:
        data = yaml.safe_load(source) or {}
        return Team.model_validate(data)
    except yaml.YAMLError as exc:
        raise TeamProblem(f"{TEAM_KEY}: not valid YAML: {exc}", ("(yaml)",)) from exc
    except ValidationError as exc:
        fields = tuple(".".join(str(p) for p in e["loc"]) or "(file)" for e in exc.errors())
        where = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields, exc.errors(), strict=True))
        raise TeamProblem(f"{TEAM_KEY}: {where}", fields) from exc


def match_profile(contact: Any, account: Any | None) -> dict[str, str]:
    """Country, region and industry of a contact, from its profile, then its account."""
    out: dict[str, str] = {}
    for name in MATCH_FIELDS:
        value = getattr(contact, name, None) or (contact.fields or {}).get(name)
        if not value and account is not None:
            value = account_value(account, name)
        if isinstance(value, str) and value:
            out[name] = value
    return out


def account_value(account: Any, name: str) -> Any:
    """A field of an account, whether a mapping or a model (with free-form `traits`)."""
    if isinstance(account, dict):
        value = account.get(name)
        traits = account.get("traits") or {}
    else:
        value = getattr(account, name, None)
        traits = getattr(account, "traits", None) or {}
    if value is None and isinstance(traits, dict):
        value = traits.get(name)
    return value
