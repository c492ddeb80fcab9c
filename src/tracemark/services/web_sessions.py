"""Browser logins: password check with throttling, server-side sessions, CSRF tokens."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tracemark.db.base import utcnow
from tracemark.db.models import LoginFailure, User, WebSession
from tracemark.services import accounts
from tracemark.services.errors import Invalid, TooManyRequests, Unauthorized
from tracemark.services.hashing import digest, random_token, sign, slow_hash, verify_slow_hash

FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 30


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so a miss costs as long as a wrong password."""
    return slow_hash(random_token(16))


@dataclass(frozen=True)
class NewSession:
    token: str
    user: User


def check_throttle(session: Session, email: str, ip: str) -> None:
    since = utcnow() - FAILURE_WINDOW
    by_email = session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.email == email.strip().lower(), LoginFailure.at > since)
    )
    by_ip = session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.ip == ip, LoginFailure.at > since)
    )
    if (by_email or 0) >= MAX_FAILURES_PER_EMAIL or (by_ip or 0) >= MAX_FAILURES_PER_IP:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        raise TooManyRequests(
            f"too many failed logins; try again in up to {minutes} minutes",
            retry_after=int(FAILURE_WINDOW.total_seconds()),
        )


def login(
    session: Session, *, email: str, password: str, ip: str, user_agent: str | None, days: int
) -> NewSession:
    """Check the password and open a session, or raise Unauthorized / TooManyRequests.

    Failures are recorded in the same transaction, so the caller must commit on both paths:
    use `record_failure` after rolling back instead when that is not possible.
    """
    address = email.strip().lower()
    check_throttle(session, address, ip)
    user = accounts.get_user_by_email(session, address)
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    if not verify_slow_hash(stored, password) or user is None or not user.password_hash:
        raise Unauthorized("wrong email or password")
    session.execute(delete(LoginFailure).where(LoginFailure.email == address))
    return open_session(session, user, user_agent=user_agent, days=days)


def record_failure(session: Session, *, email: str, ip: str) -> None:
    session.add(LoginFailure(email=email.strip().lower()[:320], ip=ip[:64]))
    # Keep the table small: forget failures older than the window.
    session.execute(delete(LoginFailure).where(LoginFailure.at < utcnow() - FAILURE_WINDOW))


def open_session(session: Session, user: User, *, user_agent: str | None, days: int) -> NewSession:
    token = random_token(32)
    session.add(
        WebSession(
            id=digest(token),
            user_id=user.id,
            expires_at=utcnow() + timedelta(days=days),
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    session.flush()
    return NewSession(token, user)


def user_for_session(session: Session, token: str | None) -> User | None:
    if not token or len(token) > 200:
        return None
    row = session.get(WebSession, digest(token))
    if row is None or row.expires_at <= utcnow():
        return None
    return session.get(User, row.user_id)


def close_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.id == digest(token)))


def csrf_token(secret_key: str, binding: str) -> str:
    """The CSRF token for a browser, bound to its session (or pre-login) cookie."""
    if not binding:
        raise Invalid("no cookie to bind a CSRF token to")
    return sign(secret_key, "csrf:" + binding)
