"""Judge calibration and annotator agreement pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tracemark.services import agreement, calibration, queues
from tracemark.services.agreement_stats import LEVELS
from tracemark.services.errors import Invalid
from tracemark.services.permissions import Permission, allows, require
from tracemark.web.common import CurrentUser, check_csrf, db_of, project_access, redirect, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
DISAGREEMENTS_SHOWN = 100
SERIES_COLORS = ("#3d5afe", "#e8590c", "#2b8a3e", "#ae3ec9", "#1098ad", "#c92a2a")


@dataclass
class ChartPoint:
    x: float
    y: float
    title: str


@dataclass
class ChartSeries:
    name: str
    color: str
    points: list[ChartPoint] = field(default_factory=list)

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    series: list[ChartSeries]
    y_label: str


def trend_chart(points: list[calibration.TrendPoint], metric: str) -> Chart | None:
    """A line per evaluator version over weeks, y from -1 to 1 (kappa and r share that range)."""
    defined = [p for p in points if p.value is not None]
    if not defined:
        return None
    weeks = sorted({p.week_start for p in points})
    left, top, plot_width, plot_height = 56, 16, 640, 220

    def x_of(week: date) -> float:
        if len(weeks) == 1:
            return left + plot_width / 2
        return left + plot_width * weeks.index(week) / (len(weeks) - 1)

    def y_of(value: float) -> float:
        return top + plot_height * (1 - (value + 1) / 2)

    series: dict[str | None, ChartSeries] = {}
    for p in defined:
        name = p.version if p.version is not None else "(no version)"
        line = series.get(p.version)
        if line is None:
            line = ChartSeries(name, SERIES_COLORS[len(series) % len(SERIES_COLORS)])
            series[p.version] = line
        line.points.append(
            ChartPoint(
                x_of(p.week_start),
                y_of(p.value),  # type: ignore[arg-type]
                f"week of {p.week_start.isoformat()} · {name} · {metric} {p.value:.3f} · "
                f"{p.pairs} pairs",
            )
        )
    step = max(1, len(weeks) // 8)
    return Chart(
        width=left + plot_width + 24,
        height=top + plot_height + 44,
        left=left,
        top=top,
        plot_width=plot_width,
        plot_height=plot_height,
        y_ticks=[(y_of(v), f"{v:g}") for v in (-1.0, -0.5, 0.0, 0.5, 1.0)],
        x_ticks=[(x_of(w), w.strftime("%b %d")) for w in weeks[::step]],
        series=list(series.values()),
        y_label=metric,
    )


def _blank(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _day(value: str | None, field_name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise Invalid(f"{field_name}: {value!r} is not a date (YYYY-MM-DD)") from None


@router.get("/project/{project_id}/calibration")
def calibration_page(
    request: Request,
    user: CurrentUser,
    project_id: str,
    config: str | None = None,
    judge: str | None = None,
    source: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """Judge calibration: a judge's scores against the humans' on one score config."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    config_id, judge_name, source = _blank(config), _blank(judge), _blank(source)
    result = None
    message = None
    with db_of(request).read() as session:
        configs = calibration.calibration_configs(session, access.project_id)
        judges = calibration.judge_names(session, access.project_id)
        may_queue = allows(access.role, Permission.MANAGE_QUEUES)
        queue_list = (
            [s.queue for s in queues.list_queues(session, access.project_id, limit=100)[0]]
            if may_queue
            else []
        )
        if config_id and judge_name:
            try:
                req = calibration.CalibrationRequest(
                    config_id=config_id,
                    judge_score_name=judge_name,
                    judge_sources=(source,) if source else calibration.JUDGE_SOURCES,
                    from_timestamp=_day(start, "from"),
                    to_timestamp=_day(end, "to"),
                    disagreements_limit=DISAGREEMENTS_SHOWN,
                )
                result = calibration.calibrate(session, access.project_id, req)
            except Invalid as exc:
                message = exc.message
        elif config_id or judge_name:
            message = "Choose both a human score config and a judge score name."
    return render(
        request,
        "calibration.html",
        {
            "access": access,
            "nav_active": "calibration",
            "configs": configs,
            "judges": judges,
            "chosen": {
                "config": config_id,
                "judge": judge_name,
                "source": source,
                "start": start or "",
                "end": end or "",
            },
            "result": result,
            "chart": trend_chart(result.trend, result.trend_metric) if result else None,
            "message": message,
            "queues": queue_list,
            "back": request.url.path + ("?" + request.url.query if request.url.query else ""),
        },
        status_code=400 if message else 200,
        user=user,
    )


def _refs(values: list[str]) -> list[queues.ObjectRef]:
    refs = []
    for value in values:
        object_type, _, object_id = value.partition(":")
        if object_type not in ("TRACE", "OBSERVATION", "SESSION") or not object_id:
            raise Invalid(f"item: {value!r} is not TYPE:id")
        refs.append(queues.ObjectRef(object_type, object_id))
    return refs


@router.post("/project/{project_id}/calibration/add-to-queue")
async def add_disagreements_to_queue(
    request: Request, user: CurrentUser, project_id: str
) -> Response:
    """Add the chosen disagreements' targets to an annotation queue."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.MANAGE_QUEUES)
    form = await request.form()
    queue_id = str(form.get("queue_id") or "")
    items = [str(v) for v in form.getlist("item")]
    if not queue_id:
        raise Invalid("queue: choose the queue to add the items to")
    if not items:
        raise Invalid("items: tick at least one disagreement to add")
    refs = _refs(items)

    def add() -> Any:
        with db_of(request).write() as session:
            return queues.add_items(session, access.project_id, queue_id, refs)

    done = await run_in_threadpool(add)
    project, queue = quote(access.project_id, safe=""), quote(queue_id, safe="")
    missing = f"&missing={len(done.not_found)}" if done.not_found else ""
    return redirect(
        f"/project/{project}/annotation-queues/{queue}?added={len(done.added)}{missing}"
    )


@router.get("/project/{project_id}/agreement")
def agreement_page(
    request: Request,
    user: CurrentUser,
    project_id: str,
    queue: str | None = None,
    config: str | None = None,
    level: str | None = None,
) -> Response:
    """Agreement between annotators on one score config, optionally within one queue."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    queue_id, config_id, level = _blank(queue), _blank(config), _blank(level)
    result = None
    message = None
    with db_of(request).read() as session:
        configs = calibration.calibration_configs(session, access.project_id)
        queue_list = [
            s.queue
            for s in queues.list_queues(
                session, access.project_id, limit=100, include_archived=True
            )[0]
        ]
        chosen_queue = next((q for q in queue_list if q.id == queue_id), None)
        if config_id is None and chosen_queue is not None:
            usable = {c.id for c in configs}
            config_id = next((c for c in chosen_queue.score_config_ids if c in usable), None)
        if config_id:
            try:
                req = agreement.AgreementRequest(
                    config_id=config_id, queue_id=queue_id, level=level
                )
                result = agreement.agreement(session, access.project_id, req)
            except Invalid as exc:
                message = exc.message
    names = {a.user_id: a.name for a in result.annotators} if result else {}
    pairs = {(p.first, p.second): p for p in result.pairwise} if result else {}
    pairs.update({(p.second, p.first): p for p in list(pairs.values())})
    return render(
        request,
        "agreement.html",
        {
            "access": access,
            "nav_active": "agreement",
            "configs": configs,
            "queues": queue_list,
            "chosen": {"queue": queue_id, "config": config_id, "level": level},
            "levels": LEVELS,
            "result": result,
            "names": names,
            "pairs": pairs,
            "message": message,
        },
        status_code=400 if message else 200,
        user=user,
    )
