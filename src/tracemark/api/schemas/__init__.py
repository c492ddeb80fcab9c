"""Pydantic request/response models of the public API (camelCase on the wire)."""
