"""Outgoing webhooks (program `webhook` steps and the CRM push): which addresses may be
called (`addresses`), calling exactly the address that was vetted (`transport`), and the
signature receivers check (`signing`)."""
