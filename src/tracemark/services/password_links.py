"""One-time links to set a password: for people added to a project who have no account yet.

The link holds a 256-bit random token; only its SHA-256 is stored (like web sessions). A link
works once and only until it expires; a new link for the same user replaces the older ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from tracemark.db.base import utcnow
from tracemark.db.models import PasswordLink, User
from tracemark.services import accounts
from tracemark.services.errors import NotFound
from tracemark.services.hashing import digest, random_token

VALID_FOR = timedelta(hours=72)
_GONE = "this link is invalid, was already used, or has expired; ask a project admin for a new one"


@dataclass(frozen=True)
class NewLink:
    token: str  # goes into /set-password/{token}; shown once
    link: PasswordLink


def create_link(
    session: Session,
    user: User,
    *,
    created_by: User | None = None,
    valid_for: timedelta = VALID_FOR,
) -> NewLink:
    """A new one-time link for `user`; their earlier unused links stop working."""
    session.execute(
        delete(PasswordLink).where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None))
    )
    token = random_token(32)
    link = PasswordLink(
        id=digest(token),
        user_id=user.id,
        created_by_user_id=created_by.id if created_by else None,
        expires_at=utcnow() + valid_for,
    )
    session.add(link)
    session.flush()
    return NewLink(token, link)


def user_for_link(session: Session, token: str) -> User:
    """The user a live link belongs to, or NotFound (unknown, used or expired alike)."""
    if not token or len(token) > 200:
        raise NotFound(_GONE)
    link = session.get(PasswordLink, digest(token))
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        raise NotFound(_GONE)
    user = session.get(User, link.user_id)
    if user is None:
        raise NotFound(_GONE)
    return user


def use_link(session: Session, token: str, password: str) -> User:
    """Set the password and spend the link, in one transaction.

    The link is marked used by a conditional UPDATE: of two concurrent submissions, only one
    changes a row, and the other is refused.
    """
    user = user_for_link(session, token)
    accounts.check_password(password)
    spent = session.execute(
        update(PasswordLink)
        .where(PasswordLink.id == digest(token), PasswordLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound(_GONE)
    accounts.set_password(session, user, password)
    session.flush()
    return user
