"""What the trace and session detail pages show, gathered once and shared with the process
page's Detailed view (one shape, rendered by `_trace.html` and `_annotate.html`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from tracemark.db.models import Observation, Role, Score, Trace, TraceSession
from tracemark.services import annotation, trace_tree, traces
from tracemark.services.annotation import CommentDetail, ScoreDetail, Target
from tracemark.services.blind import blind_for
from tracemark.web import content
from tracemark.web.score_fields import ScoreField, fields_for

SESSION_TRACES = 200


@dataclass
class NodeView:
    """The selected node of the tree: the trace itself, or one observation."""

    trace: Trace
    observation: Observation | None
    input: content.View
    output: content.View
    metadata: content.View
    model_parameters: content.View | None = None
    usage: list[tuple[str, Any]] = field(default_factory=list)
    cost: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def target(self) -> Target:
        if self.observation is None:
            return Target("TRACE", self.trace.id, self.trace.id)
        return Target("OBSERVATION", self.observation.id, self.trace.id)

    @property
    def duration(self) -> float | None:
        obs = self.observation
        if obs is None or obs.end_time is None:
            return None
        return max(0.0, (obs.end_time - obs.start_time).total_seconds())


@dataclass
class TraceDetail:
    trace: Trace
    tree: trace_tree.TraceTree
    node: NodeView
    scores: list[ScoreDetail]
    comments: list[CommentDetail]
    names: dict[str, str]  # observation id -> name, for the Scores tab
    missing_observation: str | None = None  # ?observation= named one not in this trace
    hidden_scores: int = 0  # others' scores on blind-queue items the viewer has not completed


def _pairs(value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        return []
    return [(str(k), v) for k, v in value.items() if v is not None]


def node_view(trace: Trace, obs: Observation | None) -> NodeView:
    if obs is None:
        return NodeView(
            trace,
            None,
            content.view(trace.input),
            content.view(trace.output),
            content.view(trace.metadata_),
        )
    return NodeView(
        trace,
        obs,
        content.view(obs.input),
        content.view(obs.output),
        content.view(obs.metadata_),
        content.view(obs.model_parameters) if obs.model_parameters else None,
        _pairs(obs.usage_details),
        _pairs(obs.cost_details),
    )


def load_node(
    session: Session, project_id: str, trace_id: str, observation_id: str | None
) -> NodeView:
    """Just the selected node (the panel endpoint): NotFound when it is not in the trace."""
    target = annotation.trace_target(session, project_id, trace_id, observation_id)
    trace = traces.get_trace(session, project_id, trace_id)
    obs = traces.get_observation(session, project_id, target.object_id) if observation_id else None
    return node_view(trace, obs)


def load_trace(
    session: Session,
    project_id: str,
    trace_id: str,
    observation_id: str | None,
    *,
    viewer_id: str,
    blind: bool = False,
    viewer_role: Role | None = None,
) -> TraceDetail:
    """`blind`: the process page's blind item (only the viewer's scores). `viewer_role`: the
    other pages, which hide others' scores on the items of blind queues the viewer works."""
    trace = traces.get_trace(session, project_id, trace_id)
    observations = traces.observations_of(session, project_id, trace_id)
    selected = next((o for o in observations if o.id == observation_id), None)
    details = annotation.score_details(session, project_id, trace_id=trace_id)
    obs_ids = [o.id for o in observations]
    hidden = None
    if viewer_role is not None and details:
        hidden = blind_for(
            session, project_id, viewer_id, viewer_role, traces=[trace_id], observations=obs_ids
        )
    shown = annotation.visible_scores(details, viewer_id, blind=blind, hidden=hidden)
    return TraceDetail(
        trace=trace,
        tree=trace_tree.build(trace, observations),
        node=node_view(trace, selected),
        scores=shown,
        comments=annotation.comment_details(
            session, project_id, {"TRACE": [trace_id], "OBSERVATION": obs_ids}
        ),
        names={o.id: o.name or o.type.lower() for o in observations},
        missing_observation=observation_id if observation_id and selected is None else None,
        hidden_scores=len(details) - len(shown) if hidden else 0,
    )


@dataclass
class Turn:
    trace: Trace
    input: content.View
    output: content.View
    scores: int  # scores on this trace


@dataclass
class SessionDetail:
    row: TraceSession
    turns: list[Turn]
    total: int  # traces in the session (more than the turns shown when it is long)
    scores: list[ScoreDetail]
    comments: list[CommentDetail]
    hidden_scores: int = 0  # others' scores hidden: the session is a blind item for the viewer

    @property
    def total_cost(self) -> float | None:
        costs = [t.trace.total_cost for t in self.turns if t.trace.total_cost is not None]
        return sum(costs) if costs else None

    @property
    def total_tokens(self) -> int:
        return sum(t.trace.total_tokens or 0 for t in self.turns)

    @property
    def users(self) -> list[str]:
        return sorted({t.trace.user_id for t in self.turns if t.trace.user_id})


def load_session(
    session: Session,
    project_id: str,
    session_id: str,
    *,
    viewer_id: str,
    blind: bool = False,
    viewer_role: Role | None = None,
) -> SessionDetail:
    """`blind` and `viewer_role` as for `load_trace`."""
    row, rows, total = traces.session_traces(session, project_id, session_id, limit=SESSION_TRACES)
    counts = annotation.score_counts_by_trace(session, project_id, [t.id for t in rows])
    details = annotation.score_details(session, project_id, session_id=session_id)
    hidden = None
    if viewer_role is not None and details:
        hidden = blind_for(session, project_id, viewer_id, viewer_role, sessions=[session_id])
    shown = annotation.visible_scores(details, viewer_id, blind=blind, hidden=hidden)
    return SessionDetail(
        row=row,
        turns=[
            Turn(t, content.view(t.input), content.view(t.output), counts.get(t.id, 0))
            for t in rows
        ],
        total=total,
        scores=shown,
        comments=annotation.comment_details(session, project_id, {"SESSION": [session_id]}),
        hidden_scores=len(details) - len(shown) if hidden else 0,
    )


@dataclass
class AnnotateForm:
    target: Target
    label: str  # what is scored, in words
    action: str  # where the form posts
    fields: list[ScoreField]
    mine: dict[str, Score]  # my current scores by config id


def annotate_form(
    session: Session, project_id: str, target: Target, *, label: str, action: str, user_id: str
) -> AnnotateForm:
    return AnnotateForm(
        target=target,
        label=label,
        action=action,
        fields=fields_for(annotation.active_configs(session, project_id)),
        mine=annotation.my_scores(session, project_id, target, user_id),
    )
