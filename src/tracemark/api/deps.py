"""Dependencies shared by the API routers: database, caller, role checks."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from tracemark.config import Settings
from tracemark.db.engine import Database
from tracemark.services import credentials
from tracemark.services.credentials import Principal
from tracemark.services.permissions import Permission, require

T = TypeVar("T")

# Largest body whose ingestion a server of several workers runs on the event loop (a typical
# OTLP export of 512 spans is under 1 MB and takes 50-80 ms).
INLINE_INGEST_MAX_BYTES = 2 << 20


async def run_ingest(request: Request, body: bytes, work: Callable[..., T], *args: Any) -> T:
    """Run an ingest request's blocking work: parsing, storing and committing `body`.

    - A server of several worker processes handles a body of up to 2 MB right on the worker's
      event loop. Meanwhile that worker accepts no new connection, so an export arriving on a
      new connection is taken by an idle sibling (the kernel gives a connection to whichever
      worker accepts first) instead of splitting one interpreter lock with the export already
      running there.
    - Otherwise the work goes to the thread pool, so the worker keeps answering other requests
      while it runs. On SQLite one ingest request of the process runs at a time: their writes
      queue on the database's one write lock anyway, and two of them parsing and storing side
      by side only contend for the interpreter lock (server CPU per 512-span export 3 ms
      more). On PostgreSQL one request's parsing overlaps another's database round trips.
    """
    settings = get_settings(request)
    if settings.workers > 1 and len(body) <= INLINE_INGEST_MAX_BYTES:
        return work(*args)
    if get_db(request).is_sqlite:
        async with _ingest_slot():
            return await run_in_threadpool(work, *args)
    return await run_in_threadpool(work, *args)


# Per event loop (a process has one; tests start several): the slot of SQLite ingestion.
_ingest_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _ingest_slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slot = _ingest_slots.get(loop)
    if slot is None:
        slot = _ingest_slots[loop] = asyncio.Semaphore(1)
    return slot


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_principal(request: Request) -> Principal:
    authorization = request.headers.get("authorization")
    principal = credentials.recent_principal(authorization)
    if principal is not None:
        return principal
    # Authentication may read the database and verify a slow hash: keep it off the event loop.
    return await run_in_threadpool(credentials.authenticate_header, get_db(request), authorization)


# The dependencies are coroutines: FastAPI runs a plain function dependency in a worker thread,
# a thread hop per request for reading an attribute.


async def _db(request: Request) -> Database:
    return get_db(request)


async def _settings(request: Request) -> Settings:
    return get_settings(request)


DB = Annotated[Database, Depends(_db)]
AppSettings = Annotated[Settings, Depends(_settings)]
Caller = Annotated[Principal, Depends(get_principal)]


def requires(permission: Permission) -> object:
    """A dependency that authenticates the caller and checks one permission."""

    async def dependency(caller: Caller) -> Principal:
        require(caller.role, permission)
        return caller

    return Depends(dependency)


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, malformed or wrong credentials"},
    403: {"description": "The caller's role may not do this"},
}
