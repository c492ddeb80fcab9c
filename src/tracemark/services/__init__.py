"""The domain: plain functions taking a database session. No web framework here."""
