"""Tracking: the events and forms a website or server sends, and how they are ingested."""
