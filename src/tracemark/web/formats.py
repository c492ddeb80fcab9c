"""Template filters for numbers a reviewer reads at a glance: durations, money, counts."""

from __future__ import annotations

from typing import Any

NONE = "\u2013"  # an en dash: the value is unknown


def duration(value: Any) -> str:
    """Seconds as '840 ms', '2.31 s', '3m 05s'; a dash when unknown."""
    if value is None:
        return NONE
    seconds = float(value)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def money(value: Any) -> str:
    """A cost in dollars with the digits that matter: $0.000123, $1.25."""
    if value is None:
        return NONE
    amount = float(value)
    if amount == 0:
        return "$0"
    text = f"{amount:.6f}" if abs(amount) < 1 else f"{amount:.4f}"
    return "$" + text.rstrip("0").rstrip(".")


def count(value: Any) -> str:
    """An integer with thousands separators; a dash when unknown."""
    if value is None:
        return NONE
    return f"{int(value):,}"


def score_value(score: Any) -> str:
    """A score's value as a person reads it: the label, the text, or the number."""
    if getattr(score, "string_value", None) is not None:
        return str(score.string_value)
    value = getattr(score, "value", None)
    return NONE if value is None else f"{float(value):g}"


def change_value(value: Any, string_value: Any) -> str:
    if string_value is not None:
        return str(string_value)
    return NONE if value is None else f"{float(value):g}"
