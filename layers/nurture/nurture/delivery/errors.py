"""What a mailer or texter raises, so the domain can tell "try later" from "never"."""

from __future__ import annotations


class DeliveryThrottled(Exception):
    """The provider asked us to slow down (after the client's own retries): try again later."""

    def __init__(self, detail: str, retry_after_seconds: int = 120):
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class DeliveryRejected(Exception):
    """The provider refused this message for good (e.g. SES MessageRejected)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
