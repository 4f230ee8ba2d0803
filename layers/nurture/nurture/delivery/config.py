"""Delivery configuration, read from the environment (template parameters) and the
link-signing secrets from Parameter Store, validated at start-up so a misconfigured function
fails loudly and early."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nurture.delivery.caps import FrequencyCap
from nurture.delivery.windows import SendWindow, zone_for
from nurture.secrets import secret_list

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class DeliverySettings(BaseModel):
    # defer_build: built when a function first loads its policy, not by every import (#9)
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    public_base_url: str = Field(alias="PUBLIC_BASE_URL")
    send_window: str = Field(default="08:00-20:00", alias="SEND_WINDOW")
    default_timezone: str = Field(default="UTC", alias="DEFAULT_TIMEZONE")
    email_frequency_cap: str = Field(default="3/7d", alias="EMAIL_FREQUENCY_CAP")
    sms_frequency_cap: str = Field(default="2/7d", alias="SMS_FREQUENCY_CAP")
    sms_sender_id: str = Field(default="", alias="SMS_SENDER_ID", pattern=r"^[A-Za-z0-9]{0,11}$")
    default_country_code: str = Field(
        default="", alias="DEFAULT_COUNTRY_CODE", pattern=r"^\+?\d{0,4}$"
    )
    consent_topics: str = Field(default="newsletter,offers,events", alias="CONSENT_TOPICS")
    soft_bounce_limit: str = Field(default="3/30d", alias="SOFT_BOUNCE_LIMIT")
    sms_opt_out_text: str = Field(default="Reply STOP to opt out", alias="SMS_OPT_OUT_TEXT")
    # The site's own hosts: links to them in a contact's email carry a signed click token
    # (nurture.delivery.clicks). Empty: no link carries one.
    site_hosts: str = Field(default="", alias="SITE_HOSTS")

    @field_validator("public_base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS
        ):
            raise ValueError("PUBLIC_BASE_URL must be an https:// URL (http only for localhost)")
        return value.rstrip("/")

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if zone_for(value, "").key != value:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Helsinki"
            )
        return value

    def policy(self, secrets: Sequence[str]) -> DeliveryPolicy:
        soft = FrequencyCap.parse(self.soft_bounce_limit) or FrequencyCap(3, 30 * 86400)
        return DeliveryPolicy(
            secrets=secrets,
            public_base_url=self.public_base_url,
            send_window=SendWindow.parse(self.send_window),
            default_timezone=self.default_timezone,
            email_cap=FrequencyCap.parse(self.email_frequency_cap),
            sms_cap=FrequencyCap.parse(self.sms_frequency_cap),
            sms_sender_id=self.sms_sender_id or None,
            default_country_code=self.default_country_code.lstrip("+"),
            topics=[t.strip() for t in self.consent_topics.split(",") if t.strip()],
            soft_bounce_limit=soft,
            sms_opt_out_text=self.sms_opt_out_text,
            site_hosts=tuple(h.strip().lower() for h in self.site_hosts.split(",") if h.strip()),
        )


@dataclass(frozen=True)
class DeliveryPolicy:
    secrets: Sequence[str]  # link-signing: the first signs, all verify
    public_base_url: str
    send_window: SendWindow | None
    default_timezone: str
    email_cap: FrequencyCap | None
    sms_cap: FrequencyCap | None
    sms_sender_id: str | None = None
    default_country_code: str = ""
    topics: tuple[str, ...] | list[str] = ("newsletter", "offers", "events")
    soft_bounce_limit: FrequencyCap = FrequencyCap(3, 30 * 86400)
    sms_opt_out_text: str = "Reply STOP to opt out"
    unsubscribe_link_days: int = 365
    confirm_link_days: int = 14
    site_hosts: tuple[str, ...] = ()
    click_link_days: int = 60  # how long a link in an email still identifies its reader

    def cap_for(self, channel: str) -> FrequencyCap | None:
        return self.email_cap if channel == "email" else self.sms_cap

    def link(self, kind: str, token: str) -> str:
        return f"{self.public_base_url}/{kind}/{token}"


LINK_SECRETS = "link-signing-secrets"
MIN_LINK_SECRET_LENGTH = 16


def check_link_secrets(values: list[str]) -> list[str]:
    if not values:
        raise ValueError(f"the secret {LINK_SECRETS!r} is empty")
    if any(len(value) < MIN_LINK_SECRET_LENGTH for value in values):
        raise ValueError(
            f"every {LINK_SECRETS} entry must be at least {MIN_LINK_SECRET_LENGTH} characters"
        )
    return values


class StoredLinkSecrets(Sequence[str]):
    """The link-signing secrets in Parameter Store, read on use (from the secrets cache), so
    after a rotation links are signed with the newest first entry and older ones verify."""

    def current(self) -> list[str]:
        return check_link_secrets(secret_list(LINK_SECRETS))

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self.current()[index]

    def __len__(self) -> int:
        return len(self.current())

    def __iter__(self) -> Iterator[str]:
        return iter(self.current())  # one read per use: a rotation never mixes lists


def load_policy() -> DeliveryPolicy:
    # The secrets are read (and checked: a missing or too-short one raises) on first use,
    # not here: a handler makes its policy at import, and a cold start that signs no link
    # (a react batch of page views) makes no Parameter Store call nor imports boto3 for it.
    return DeliverySettings.model_validate(dict(os.environ)).policy(StoredLinkSecrets())


class MailSettings(BaseModel):
    """Where a function that sends email (outside program steps) sends from."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)  # as above

    sender_email: str = Field(alias="SENDER_EMAIL")
    configuration_set: str = Field(alias="SES_CONFIGURATION_SET")
    content_bucket: str = Field(alias="CONTENT_BUCKET")

    @classmethod
    def from_env(cls) -> MailSettings:
        return cls.model_validate(dict(os.environ))
