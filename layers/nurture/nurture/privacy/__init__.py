"""Personal data (GDPR): export everything held about a person, and erase it.

`service.export_person` gathers the person's items from every table, the schedules and the
lake into one JSON bundle; `service.erase_person` stops their runs, deletes their schedules,
items and lake rows, and leaves only a hashed suppression (`erased_hash`) that the send path
checks, plus an audit record without personal data. Storage is behind `ports`."""
