"""Sales collaboration after the MQL crossing: owners, the hand-off email and its answers,
recycling and re-activation, the daily digest, tasks, and the CRM (see docs/sales.md)."""
