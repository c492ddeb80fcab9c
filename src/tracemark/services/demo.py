"""The demo project a newcomer can annotate at once. Running it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracemark.db.base import utcnow
from tracemark.db.models import ApiKey, Role, Trace
from tracemark.ingest.langfuse import parse_ingestion
from tracemark.services import accounts, credentials, ingest
from tracemark.services.demo_traces import demo_ingestion_payloads

DEMO_PROJECT = "Demo project"
DEMO_EMAIL = "demo@tracemark.local"
DEMO_PASSWORD = "tracemark-demo"
DEMO_PUBLIC_KEY = "pk-tm-demo"
DEMO_SECRET_KEY = "sk-tm-demo"
DEMO_ANNOTATORS = (
    ("ana@tracemark.local", "Ana Annotator"),
    ("ben@tracemark.local", "Ben Annotator"),
)


@dataclass(frozen=True)
class DemoInfo:
    project_id: str
    email: str
    password: str
    public_key: str
    secret_key: str
    annotators: tuple[tuple[str, str], ...]


def ensure_demo_accounts(session: Session) -> DemoInfo:
    """The demo user (an instance admin), two annotators, the project and its key pair."""
    owner = accounts.get_user_by_email(session, DEMO_EMAIL) or accounts.create_user(
        session, email=DEMO_EMAIL, name="Demo User", password=DEMO_PASSWORD, is_admin=True
    )
    try:
        project = accounts.find_project(session, DEMO_PROJECT)
    except Exception:
        project = accounts.create_project(session, DEMO_PROJECT, owner=owner)
    for email, name in DEMO_ANNOTATORS:
        annotator = accounts.get_user_by_email(session, email) or accounts.create_user(
            session, email=email, name=name, password=DEMO_PASSWORD
        )
        if accounts.role_in_project(session, annotator, project.id) is None:
            accounts.set_membership(session, project, annotator, Role.ANNOTATOR)
    if not session.scalar(select(ApiKey.id).where(ApiKey.public_key == DEMO_PUBLIC_KEY)):
        credentials.create_api_key(
            session, project, note="demo key", public_key=DEMO_PUBLIC_KEY, secret=DEMO_SECRET_KEY
        )
    return DemoInfo(
        project_id=project.id,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        public_key=DEMO_PUBLIC_KEY,
        secret_key=DEMO_SECRET_KEY,
        annotators=DEMO_ANNOTATORS,
    )


def ensure_demo_traces(session: Session, project_id: str) -> int:
    """About 200 traces of a RAG support assistant, sent through the ingestion code.

    Skipped when the project already has traces, so re-running changes nothing.
    Returns how many traces were added.
    """
    if session.scalar(select(Trace.id).where(Trace.project_id == project_id).limit(1)):
        return 0
    added = 0
    for payload in demo_ingestion_payloads(utcnow()):
        parsed = parse_ingestion(payload)
        if parsed.errors:
            raise RuntimeError(f"demo data does not parse: {parsed.errors[0].message}")
        result = ingest.ingest_batch(
            session,
            project_id,
            parsed.batch,
            default_trace_timestamps=parsed.default_trace_timestamps,
            default_start_times=parsed.default_start_times,
        )
        added += len({t.id for t in parsed.batch.traces})
        assert not result.unresolved_observations
    return added
