"""A trace's observations as an execution tree on one time axis (for the trace page)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tracemark.db.models import Observation, Trace

# A trace with more observations shows the first ones and says how many are left out.
MAX_ROWS = 2_000


@dataclass
class TreeRow:
    observation: Observation
    depth: int
    children: int
    offset: float  # start on the trace's time axis, 0..1
    width: float  # duration on the same axis, 0..1
    duration: float | None  # seconds; None while the observation has not ended


@dataclass
class TraceTree:
    rows: list[TreeRow] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    hidden: int = 0

    @property
    def span(self) -> float:
        """Seconds from the first start to the last end."""
        if self.start is None or self.end is None:
            return 0.0
        return max(0.0, (self.end - self.start).total_seconds())


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def build(
    trace: Trace, observations: Sequence[Observation], *, max_rows: int = MAX_ROWS
) -> TraceTree:
    """Depth-first rows, children by start time. Observations whose parent is missing (not
    arrived yet, or in another trace) hang at the top level; a parent cycle cannot loop."""
    by_id = {o.id: o for o in observations}
    children: dict[str | None, list[Observation]] = {}
    for obs in observations:
        parent = obs.parent_observation_id
        if parent not in by_id or parent == obs.id:
            parent = None
        children.setdefault(parent, []).append(obs)
    for siblings in children.values():
        siblings.sort(key=lambda o: (_aware(o.start_time), o.id))

    moments = [_aware(o.start_time) for o in observations]
    moments += [_aware(o.end_time) for o in observations if o.end_time is not None]
    for moment in (trace.start_time, trace.end_time):
        if moment is not None:
            moments.append(_aware(moment))
    if not moments:
        moments = [_aware(trace.timestamp)]
    origin = min(moments)
    tree = TraceTree(start=origin, end=max(moments))
    span = tree.span

    def place(obs: Observation, depth: int) -> TreeRow:
        start = _aware(obs.start_time)
        end = _aware(obs.end_time) if obs.end_time is not None else None
        duration = max(0.0, (end - start).total_seconds()) if end is not None else None
        offset = (start - origin).total_seconds() / span if span else 0.0
        width = (duration or 0.0) / span if span else (1.0 if duration is not None else 0.0)
        offset = min(max(offset, 0.0), 1.0)
        width = min(max(width, 0.0), 1.0 - offset)
        return TreeRow(obs, depth, len(children.get(obs.id, [])), offset, width, duration)

    seen: set[str] = set()
    stack: list[tuple[Observation, int]] = [(o, 0) for o in reversed(children.get(None, []))]
    while stack:
        obs, depth = stack.pop()
        if obs.id in seen:
            continue
        seen.add(obs.id)
        if len(tree.rows) >= max_rows:
            tree.hidden += 1
            continue
        tree.rows.append(place(obs, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(obs.id, [])))
    # Observations only reachable through a cycle: shown at the top level, never lost.
    for obs in observations:
        if obs.id not in seen:
            seen.add(obs.id)
            if len(tree.rows) >= max_rows:
                tree.hidden += 1
            else:
                tree.rows.append(place(obs, 0))
    return tree
