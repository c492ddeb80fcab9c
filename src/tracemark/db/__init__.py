"""Persistence: engine, models and migrations. No web framework imports here."""
