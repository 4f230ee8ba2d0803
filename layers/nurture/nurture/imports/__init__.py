"""Importing contacts from a CSV file: a mapping of columns to fields, every row checked,
consent recorded only where the file states it, nothing a person said since overwritten.
Domain only (no boto3): `mapping` (the mapping file's schema), `rows` (one row checked),
`merge` (what a row changes on a contact), `runner` (chunks of rows against a store port),
the DynamoDB store in `nurture.adapters.imports`."""
