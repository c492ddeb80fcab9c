"""One control per score config, shared by the process page and the Annotate panels.

`_score_fields.html` renders them; `values_from_form` reads a submitted Annotate form back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tracemark.db.models import Score, ScoreConfig, ScoreDataType
from tracemark.services.errors import Invalid
from tracemark.services.queue_work import ScoreValue

FIELD_PREFIX = "score."


@dataclass
class Choice:
    label: str
    value: Any  # what the page sends back: the category label, or 1/0 for booleans
    key: int  # its number key (1-9), 0 when it has none


@dataclass
class ScoreField:
    config: ScoreConfig
    kind: str  # NUMERIC, CATEGORICAL, BOOLEAN, TEXT
    choices: list[Choice] = field(default_factory=list)


def fields_for(configs: Iterable[ScoreConfig]) -> list[ScoreField]:
    fields = []
    for config in configs:
        if config.is_archived:
            continue  # an archived config takes no new scores
        kind = config.data_type
        choices: list[Choice] = []
        if kind == ScoreDataType.CATEGORICAL.value:
            choices = [
                Choice(str(c["label"]), str(c["label"]), i + 1 if i < 9 else 0)
                for i, c in enumerate(config.categories or [])
            ]
        elif kind == ScoreDataType.BOOLEAN.value:
            choices = [Choice("Yes", 1, 1), Choice("No", 0, 2)]
        fields.append(ScoreField(config, kind, choices))
    return fields


def _same(score: Score | None, kind: str, value: Any) -> bool:
    if score is None:
        return False
    if kind in (ScoreDataType.CATEGORICAL.value, ScoreDataType.TEXT.value):
        return bool(score.string_value == value)
    return bool(score.value is not None and float(score.value) == float(value))


def values_from_form(
    fields: Iterable[ScoreField], form: Mapping[str, Any], mine: Mapping[str, Score]
) -> list[ScoreValue]:
    """The scores a submitted Annotate form sets or changes (unchanged ones are left alone)."""
    values = []
    for f in fields:
        raw = form.get(FIELD_PREFIX + f.config.id)
        if not isinstance(raw, str) or not raw.strip():
            continue
        text = raw.strip()
        value: Any
        if f.kind == ScoreDataType.NUMERIC.value:
            try:
                value = float(text)
            except ValueError:
                raise Invalid(f"{f.config.name}: enter a number, got {text!r}") from None
            if not math.isfinite(value):
                raise Invalid(f"{f.config.name}: enter a finite number")
        elif f.kind == ScoreDataType.BOOLEAN.value:
            if text not in ("0", "1"):
                raise Invalid(f"{f.config.name}: choose yes or no")
            value = int(text)
        else:
            value = text
        if not _same(mine.get(f.config.id), f.kind, value):
            values.append(ScoreValue(f.config.id, value))
    return values
