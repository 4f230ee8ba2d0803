"""Measuring: the activity lake and the reports that read it (DuckDB locally, Athena at scale)."""
