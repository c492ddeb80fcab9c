"""Project API keys and personal access tokens: creation, revocation, authentication.

Secrets are stored only as Argon2 hashes. Checking Argon2 on every request would cost tens of
milliseconds, so a process remembers (in memory, for a few minutes) the SHA-256 of secrets it
has already verified.

Who a credential acts as (its project, user, role) is remembered too, for at most
PRINCIPAL_TTL_SECONDS, so that a request does not pay a read transaction for it. Any change to a
key, token, user, membership or project committed through an ORM session of this process
forgets every remembered principal at once (`_forget_on_commit`): revocation and membership
changes take effect immediately in the process that made them, and within PRINCIPAL_TTL_SECONDS
in the others (another server worker, the CLI).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracemark.db.base import utcnow
from tracemark.db.engine import Database
from tracemark.db.models import ApiKey, Membership, PersonalToken, Project, Role, User
from tracemark.services import accounts
from tracemark.services.errors import Conflict, Invalid, NotFound, Unauthorized
from tracemark.services.hashing import random_token, slow_hash, verify_slow_hash
from tracemark.services.permissions import API_KEY_ROLE

PUBLIC_PREFIX = "pk-tm-"
SECRET_PREFIX = "sk-tm-"
TOKEN_PREFIX = "tm-pat-"
_VERIFIED_TTL_SECONDS = 300.0
PRINCIPAL_TTL_SECONDS = 2.0
_LAST_USED_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a project key, or a user through a token or a web session."""

    project_id: str
    role: Role
    kind: str  # "api_key" | "token" | "session"
    user_id: str | None = None
    user_name: str | None = None
    credential_id: str | None = None


@dataclass(frozen=True)
class NewApiKey:
    key: ApiKey
    secret: str


@dataclass(frozen=True)
class NewToken:
    token: PersonalToken
    value: str


class _VerifiedCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._verifying: dict[str, threading.Lock] = {}

    def verifying(self, credential_id: str) -> threading.Lock:
        """One Argon2 check per credential at a time: each check takes 64 MiB of memory, and
        concurrent first requests with the same key then find the result cached."""
        with self._lock:
            return self._verifying.setdefault(credential_id, threading.Lock())

    def seen(self, credential_id: str, secret: str) -> bool:
        key = (credential_id, hashlib.sha256(secret.encode()).hexdigest())
        with self._lock:
            expiry = self._entries.get(key)
            return expiry is not None and expiry > time.monotonic()

    def remember(self, credential_id: str, secret: str) -> None:
        key = (credential_id, hashlib.sha256(secret.encode()).hexdigest())
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = time.monotonic() + _VERIFIED_TTL_SECONDS


_verified = _VerifiedCache()


class _PrincipalCache:
    """Authorization header (its SHA-256) -> the principal it authenticated, briefly.

    An entry is valid while it is younger than PRINCIPAL_TTL_SECONDS and no credential change
    was committed in this process since the lookup that produced it began (`generation`).
    """

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[Principal, float, int]] = {}
        self.generation = 0

    def get(self, authorization: str) -> Principal | None:
        entry = self._entries.get(hashlib.sha256(authorization.encode()).digest())
        if entry is None:
            return None
        principal, expiry, generation = entry
        if generation != self.generation or expiry <= time.monotonic():
            return None
        return principal

    def put(
        self, authorization: str, principal: Principal, generation: int, started: float
    ) -> None:
        if generation != self.generation:
            return  # a credential changed while it was being looked up
        if len(self._entries) > 10_000:
            self._entries.clear()
        key = hashlib.sha256(authorization.encode()).digest()
        self._entries[key] = (principal, started + PRINCIPAL_TTL_SECONDS, generation)

    def forget_all(self) -> None:
        self.generation += 1
        self._entries.clear()


_principals = _PrincipalCache()
# What a principal is made of: a change to any of these rows forgets the remembered principals.
_CREDENTIAL_MODELS = (ApiKey, PersonalToken, User, Membership, Project)


@event.listens_for(Session, "after_flush")
def _note_credential_changes(session: Session, _context: Any) -> None:
    if "credentials_changed" in session.info:
        return
    for objects in (session.new, session.dirty, session.deleted):
        if any(isinstance(o, _CREDENTIAL_MODELS) for o in objects):
            session.info["credentials_changed"] = True
            # Before the commit as well: a lookup racing with it must not be remembered.
            _principals.forget_all()
            return


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    if session.info.pop("credentials_changed", False):
        _principals.forget_all()


@event.listens_for(Session, "after_rollback")
def _drop_note(session: Session) -> None:
    session.info.pop("credentials_changed", None)


def recent_principal(authorization: str | None) -> Principal | None:
    """The principal this header authenticated within the last moments, if still valid: no I/O."""
    if not authorization:
        return None
    return _principals.get(authorization)


def create_api_key(
    session: Session,
    project: Project,
    *,
    note: str | None = None,
    public_key: str | None = None,
    secret: str | None = None,
) -> NewApiKey:
    """A new key pair for `project`. The secret is returned here and never again.

    A `public_key` that is taken already raises Conflict (a form sent twice creates one key).
    """
    public = public_key or new_public_key()
    secret_value = secret or SECRET_PREFIX + random_token(32)
    if not public.startswith(PUBLIC_PREFIX) or not secret_value.startswith(SECRET_PREFIX):
        raise Invalid(f"keys must start with {PUBLIC_PREFIX} and {SECRET_PREFIX}")
    key = ApiKey(
        project_id=project.id,
        public_key=public,
        secret_hash=slow_hash(secret_value),
        display_secret=secret_value[:8] + "…" + secret_value[-4:],
        note=note,
    )
    _insert_once(session, key, f"the API key {public} exists already")
    return NewApiKey(key, secret_value)


def list_api_keys(session: Session, project_id: str) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.project_id == project_id).order_by(ApiKey.created_at)
        )
    )


def revoke_api_key(session: Session, project_id: str, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.project_id != project_id:
        raise NotFound(f"API key {key_id} not found in this project")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def new_public_key() -> str:
    """A fresh public key (a form carries one, so that sending it twice creates one key)."""
    return PUBLIC_PREFIX + random_token(18)


def is_generated_public_key(value: str) -> bool:
    """Whether `value` has the shape of `new_public_key()`'s keys."""
    rest = value[len(PUBLIC_PREFIX) :]
    return value.startswith(PUBLIC_PREFIX) and len(rest) == 24 and _urlsafe(rest)


def new_token_lookup() -> str:
    """A fresh public part for a personal token (its form carries one, as for keys)."""
    return random_token(12).replace("-", "x").replace("_", "y")[:16]


def is_generated_token_lookup(value: str) -> bool:
    return len(value) == 16 and value.isascii() and value.isalnum()


def _urlsafe(text: str) -> bool:
    return text.isascii() and all(c.isalnum() or c in "-_" for c in text)


def create_token(
    session: Session,
    user: User,
    project: Project,
    name: str = "token",
    *,
    lookup: str | None = None,
) -> NewToken:
    """A personal access token acting as `user` in `project`. Shown once.

    A `lookup` (the token's public part) that is taken already raises Conflict.
    """
    if accounts.role_in_project(session, user, project.id) is None:
        raise Invalid(f"{user.email} is not a member of project {project.name}")
    lookup = lookup or new_token_lookup()
    secret = random_token(32)
    token = PersonalToken(
        lookup=lookup,
        token_hash=slow_hash(secret),
        user_id=user.id,
        project_id=project.id,
        name=name.strip()[:100] or "token",
    )
    _insert_once(session, token, "this token exists already")
    return NewToken(token, f"{TOKEN_PREFIX}{lookup}.{secret}")


def _insert_once(session: Session, row: ApiKey | PersonalToken, taken: str) -> None:
    """Insert `row` in a savepoint; Conflict (the transaction goes on) if its public part is
    taken, by an earlier send of the same form or a concurrent one."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(taken) from None


def list_tokens(session: Session, user_id: str) -> list[PersonalToken]:
    return list(
        session.scalars(
            select(PersonalToken)
            .where(PersonalToken.user_id == user_id)
            .order_by(PersonalToken.created_at)
        )
    )


def revoke_token(session: Session, user_id: str, token_id: str) -> PersonalToken:
    token = session.get(PersonalToken, token_id)
    if token is None or token.user_id != user_id:
        raise NotFound(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def authenticate_header(db: Database, authorization: str | None) -> Principal:
    """The caller named by an Authorization header, or Unauthorized saying what is wrong."""
    if not authorization:
        raise Unauthorized(
            "missing Authorization header; send HTTP Basic with your public key as user and "
            "secret key as password, or Bearer with a personal access token"
        )
    generation, started = _principals.generation, time.monotonic()
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic":
        public, secret = _decode_basic(value)
        principal = _authenticate_key(db, public, secret)
    elif scheme == "bearer":
        principal = _authenticate_token(db, value)
    else:
        raise Unauthorized(f"unsupported Authorization scheme {scheme!r}; use Basic or Bearer")
    _principals.put(authorization, principal, generation, started)
    return principal


def _decode_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Basic credentials: not base64 of 'public:secret'") from None
    public, sep, secret = decoded.partition(":")
    if not sep or not public or not secret:
        raise Unauthorized("malformed Basic credentials: expected 'public_key:secret_key'")
    return public, secret


def _authenticate_key(db: Database, public: str, secret: str) -> Principal:
    if not public.startswith(PUBLIC_PREFIX):
        raise Unauthorized(
            f"malformed public key: Tracemark public keys start with {PUBLIC_PREFIX}"
        )
    with db.read() as session:
        key = session.execute(
            select(ApiKey.id, ApiKey.project_id, ApiKey.secret_hash, ApiKey.revoked_at)
            .add_columns(ApiKey.last_used_at)
            .where(ApiKey.public_key == public)
        ).first()
    # The slow hash is checked after the read transaction has ended.
    if key is None:
        raise Unauthorized("invalid credentials: unknown public key")
    key_id, project_id, secret_hash, revoked_at, last_used = key
    if revoked_at is not None:
        raise Unauthorized("invalid credentials: this API key was revoked")
    _verify(key_id, secret_hash, secret, "invalid credentials: wrong secret key")
    _touch(db, ApiKey, key_id, last_used)
    return Principal(project_id=project_id, role=API_KEY_ROLE, kind="api_key", credential_id=key_id)


def _authenticate_token(db: Database, value: str) -> Principal:
    if not value.startswith(TOKEN_PREFIX) or "." not in value:
        raise Unauthorized(f"malformed token: personal access tokens start with {TOKEN_PREFIX}")
    lookup, _, secret = value[len(TOKEN_PREFIX) :].partition(".")
    with db.read() as session:
        row = session.execute(_token_statement(), {"lookup": lookup}).first()
    # The slow hash is checked after the read transaction has ended.
    if row is None:
        raise Unauthorized("invalid credentials: unknown or revoked token")
    token_id, token_hash, revoked_at, last_used, project_id, user_id, name, is_admin, role = row
    if revoked_at is not None:
        raise Unauthorized("invalid credentials: unknown or revoked token")
    _verify(token_id, token_hash, secret, "invalid credentials: unknown or revoked token")
    # As accounts.role_in_project: instance admins act as OWNER everywhere.
    if is_admin:
        role = Role.OWNER
    elif role is None:
        raise Unauthorized("this token's user is no longer a member of its project")
    _touch(db, PersonalToken, token_id, last_used)
    return Principal(
        project_id=project_id,
        role=Role(role),
        kind="token",
        user_id=user_id,
        user_name=name,
        credential_id=token_id,
    )


@cache
def _token_statement() -> Any:
    """One query: the token, its user, and the user's role in the token's project."""
    return (
        select(
            PersonalToken.id,
            PersonalToken.token_hash,
            PersonalToken.revoked_at,
            PersonalToken.last_used_at,
            PersonalToken.project_id,
            User.id,
            User.name,
            User.is_admin,
            Membership.role,
        )
        .join(User, User.id == PersonalToken.user_id)
        .outerjoin(
            Membership,
            and_(
                Membership.project_id == PersonalToken.project_id,
                Membership.user_id == PersonalToken.user_id,
            ),
        )
        .where(PersonalToken.lookup == bindparam("lookup"))
    )


def _verify(credential_id: str, stored_hash: str, secret: str, wrong: str) -> None:
    """Check a secret against its slow hash, unless this process verified it recently."""
    if _verified.seen(credential_id, secret):
        return
    with _verified.verifying(credential_id):
        if not _verified.seen(credential_id, secret):
            if not verify_slow_hash(stored_hash, secret):
                raise Unauthorized(wrong)
            _verified.remember(credential_id, secret)


# credential id -> when this process last recorded its use (monotonic seconds): several
# requests that read the same old last_used_at write it once, not once each.
_touched: dict[str, float] = {}


def _touch(
    db: Database, model: type[ApiKey] | type[PersonalToken], row_id: str, last: datetime | None
) -> None:
    """Record last use, at most once a minute per credential (a write costs on SQLite)."""
    now = utcnow()
    if last is not None and now - last < _LAST_USED_EVERY:
        return
    moment = time.monotonic()
    if moment - _touched.get(row_id, -1e9) < _LAST_USED_EVERY.total_seconds():
        return
    if len(_touched) > 10_000:
        _touched.clear()
    _touched[row_id] = moment
    with db.write() as session:
        session.execute(update(model).where(model.id == row_id).values(last_used_at=now))
