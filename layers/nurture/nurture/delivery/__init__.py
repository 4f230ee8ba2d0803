"""Delivery that respects permission: who may be sent what, when, and how often.

- `consent`: marketing needs consent per channel and topic; service messages do not.
- `windows`: quiet hours in the contact's time zone; `caps`: frequency caps across programs.
- `tokens`: signed links for one-click unsubscribe, preferences and double opt-in.
- `compose` / `sms`: building an email (headers, footer) or an SMS (E.164, segments).
- `sender`: the send steps; `feedback`: SES events -> suppression, stats, send ledger;
  `preferences`: the preference page and double opt-in confirmation.
"""
