"""Tracemark: human annotation of LLM traces."""

__version__ = "0.1.0"
