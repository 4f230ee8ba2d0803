"""The admin API's domain (nurture.admin): contact search and profiles, programs with their
numbers and controls (pause, resume, archive), tasks, suppressions. Storage is behind
`ports`; the DynamoDB side is `nurture.adapters.admin`. Imports nothing at package level:
`keys` is imported by every function that writes a contact."""
