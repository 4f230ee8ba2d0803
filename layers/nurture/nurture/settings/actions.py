"""What program step actions read when they run."""

from __future__ import annotations

from pydantic import Field

from nurture.settings import Env


class ActionSettings(Env):
    """What program step actions read when they run (not at start-up, so a test can point
    webhooks at a local server)."""

    # Where sales notifications and "owner" tasks go when the contact has no `owner` field.
    sales_email: str = Field(default="", alias="SALES_EMAIL")
    # Comma-separated hosts exempt from the public-HTTPS-only rule (tests, private integrations).
    webhook_allow_hosts: str = Field(default="", alias="WEBHOOK_ALLOW_HOSTS")
    webhook_timeout_seconds: float = Field(default=10.0, alias="WEBHOOK_TIMEOUT_SECONDS", gt=0)

    def allowed_hosts(self) -> set[str]:
        return {h.strip().lower() for h in self.webhook_allow_hosts.split(",") if h.strip()}
