"""Accounts: the companies contacts belong to, from Segment `group` calls (B2B scoring and
grading read them). Stored in the contacts table as `ACCOUNT#<account_id>` / `PROFILE`; a
contact points at its account with `Contact.account_id`."""

from nurture.accounts.model import ACCOUNT_FIELDS, Account, apply_traits

__all__ = ["ACCOUNT_FIELDS", "Account", "apply_traits"]
