"""Contacts: who someone is, what they agreed to, and where they stand."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

LifecycleStage = Literal[
    "subscriber",
    "lead",
    "mql",
    "sql",
    "customer",
    "repeat_customer",
    "loyal_customer",
    "advocate",
    "former_customer",
    # sales sent the lead back: not now (nurture, watch for re-activation) / not a fit
    "recycled",
    "disqualified",
]
# Lifecycle order, so `{field: stage, gte: customer}` means "customer or further along".
# Stages off the funnel (former customers, leads sales sent back) have no rank. (Here, not
# in nurture.programs.conditions, so code that only ranks stages imports no condition models.)
OFF_FUNNEL_STAGES = ("former_customer", "recycled", "disqualified")
STAGE_ORDER = tuple(s for s in get_args(LifecycleStage) if s not in OFF_FUNNEL_STAGES)

# The profile fields a template or a rule may use, besides the free-form `fields`.
PROFILE_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "country",
    "city",
    "postal_address",
    "timezone",
    "locale",
    "birthday",
)


class Consent(BaseModel):
    """Permission for one channel and topic, with the proof GDPR asks for."""

    channel: Literal["email", "sms"]
    topic: str = "marketing"
    status: Literal["granted", "pending", "withdrawn"]
    at: str
    source: str  # e.g. "form:newsletter-signup", "api", "import"
    text: str = ""  # the wording the contact was shown

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.topic}"


class Suppression(BaseModel):
    """Why a channel of this contact is never sent to again (hard bounce, complaint, STOP)."""

    channel: Literal["email", "sms"]
    reason: str  # hard_bounce | complaint | soft_bounces | sms_stop
    at: str
    detail: str = ""


class Contact(BaseModel):
    model_config = ConfigDict(extra="ignore")

    contact_id: str
    created_at: str
    updated_at: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job_title: str | None = None
    country: str | None = None
    city: str | None = None
    postal_address: str | None = None
    timezone: str | None = None
    locale: str | None = None
    birthday: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    stage: LifecycleStage = "subscriber"
    score: int = 0
    # The fit grade A-F of the primary scoring model (nurture.scoring), None until graded.
    grade: str | None = None
    # Per scoring model: what its score is made of (nurture.scoring.state.ScoreState).
    scoring: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Predictive scoring (nurture.predictive.scores): the live model's 1-100 score, its top
    # factors [{"text", "points"}] and the model version; None until a scoring run.
    predictive_score: int | None = None
    predictive_factors: list[dict[str, Any]] = Field(default_factory=list)
    predictive_model: int | None = None
    tags: list[str] = Field(default_factory=list)
    consent: dict[str, Consent] = Field(default_factory=dict)
    # keyed by channel; written by delivery from SES bounces/complaints and SMS STOP replies
    suppressed: dict[str, Suppression] = Field(default_factory=dict)
    # Every actor key (anon:, user:, email:, contact:) whose activity belongs to this contact.
    actors: list[str] = Field(default_factory=list)
    # The company they belong to (a Segment `group` call): `nurture.accounts.Account`.
    account_id: str | None = None
    # The message id of the activity that created the contact: its replay (a retried stream
    # batch) takes the path it took the first time, never becomes a claim on its own contact.
    created_by: str | None = None
    # What the activity that created it proved (nurture.tracking.trust). A contact a public
    # key made from a userId alone is never adopted by a trusted call that names the userId
    # later (nurture.tracking.identity.unproven); None for contacts made before this was kept.
    created_trust: str | None = None
    # The trust of the call that adopted a contact a public key made (a secret or verified
    # identify naming its email, a signed click on a link emailed to it): None while it is
    # unproven (nurture.tracking.identity.adopt; README, "Who may change a contact").
    adopted_by: str | None = None
    # Every program this contact was ever entered into (a superset of its enrolments: added
    # before an entry is claimed, never removed), so a contact with none needs no read of
    # its enrolments for goals and waits (nurture.runtime.react). None: not kept for this
    # contact (made before it was, or elsewhere than by identity): its enrolments are read.
    programs_entered: list[str] | None = None

    def template_context(self) -> dict[str, Any]:
        """What templates see as `contact`: profile fields, custom fields, stage, score, tags."""
        data = {name: getattr(self, name) for name in PROFILE_FIELDS}
        data.update(self.fields)
        data.update(contact_id=self.contact_id, stage=self.stage, score=self.score, tags=self.tags)
        return data


def email_problem(value: str) -> str | None:
    """Why `value` (trimmed) is not one email address SES can deliver to, or None.

    Checked by email-validator (what pydantic's EmailStr uses), without DNS: RFC 5321/5322
    syntax and lengths, no CR/LF/NUL or other control characters, one address (no lists),
    a domain with a period that is not special-use (`.local`, `.test`, ...), IDN domains
    by IDNA 2008. The part before the @ must be ASCII: SES does not take SMTPUTF8 mailboxes.
    """
    from email_validator import EmailNotValidError, validate_email  # on first use: cold starts

    try:
        validate_email(
            value.strip(),
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
        )
    except EmailNotValidError as exc:
        return str(exc)
    return None


def normalise_email(value: str) -> str:
    """One address, one contact key: trimmed, lower case, the domain as IDNA ASCII
    (`user@bücher.de` and `user@xn--bcher-kva.de` are `user@xn--bcher-kva.de`, what SES
    sends to). An ASCII address is simply trimmed and lower-cased, as always. A value that
    is not an address (an SES notification's odd recipient) is trimmed and lower-cased."""
    text = value.strip()
    if text.isascii() and "xn--" not in text.lower():
        return text.lower()
    from email_validator import EmailNotValidError, validate_email

    try:
        found = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return text.lower()
    return f"{found.local_part.lower()}@{found.ascii_domain.lower()}"


def looks_like_email(value: str) -> bool:
    """Whether `value` is one deliverable-looking address (see `email_problem`)."""
    return email_problem(value) is None


MAX_PHONE_CHARS = 64
# libphonenumber's NumberParseException error types, in words
_PHONE_PARSE_REASONS = {
    0: "has no known country code",  # INVALID_COUNTRY_CODE
    1: "is not a phone number",  # NOT_A_NUMBER
    2: "is too short",  # TOO_SHORT_AFTER_IDD
    3: "is too short",  # TOO_SHORT_NSN
    4: "is too long",  # TOO_LONG
}


class PhoneError(ValueError):
    """A phone number that is not one: the reason, for a 4xx or an SMS skipped."""


def normalise_phone(raw: str, default_country_code: str = "") -> str:
    """A phone number in E.164 (`+358401234567`), checked against the real numbering plans
    by Google's libphonenumber (`phonenumbers`): an unassigned range (Ofcom's drama numbers),
    a number too short or too long for its country is refused. "+358 40 123 4567" and
    "00358 40 123 4567" need no default; a national number ("040 123 4567") is read in the
    country of `default_country_code` (a calling code, DEFAULT_COUNTRY_CODE), with that
    country's trunk prefix. Raises PhoneError with the reason."""
    import phonenumbers  # on first use: most functions never read a number (cold starts)

    text = raw.strip()
    if not text or len(text) > MAX_PHONE_CHARS:
        raise PhoneError(f"is not a phone number (1 to {MAX_PHONE_CHARS} characters)")
    if text.startswith("00"):
        text = "+" + text[2:]
    region = None
    if not text.startswith("+"):
        code = default_country_code.lstrip("+")
        region = phonenumbers.region_code_for_country_code(int(code)) if code.isdigit() else None
        if region in (None, phonenumbers.UNKNOWN_REGION):
            raise PhoneError(
                "has no country code (+<country> <number>) and no default country is set"
            )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        reason = _PHONE_PARSE_REASONS.get(exc.error_type, "is not a phone number")
        raise PhoneError(reason) from None
    if number.extension:
        raise PhoneError("has an extension; give the number alone")
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_country_code(number.country_code or 0)
        raise PhoneError(
            f"is not a number in the numbering plan of {where} (+{number.country_code})"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
