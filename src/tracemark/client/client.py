"""`TracemarkClient`: Tracemark's own endpoints over HTTP (queue processing, bulk adds, exports)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from tracemark import __version__
from tracemark.client.errors import TracemarkError
from tracemark.client.models import (
    BulkResult,
    Completion,
    Item,
    Progress,
    Queue,
    QueueItem,
    ScoreChange,
)

__all__ = ["ByteStream", "TracemarkClient"]

# Items per bulk request: well under the server's limit (50,000) and body size (16 MB).
BULK_CHUNK = 10_000

# GET /scores/export filters: Python keyword -> query parameter. camelCase names are taken too.
_SCORE_FILTERS = {
    "name": "name",
    "source": "source",
    "data_type": "dataType",
    "config_id": "configId",
    "queue_id": "queueId",
    "author_user_id": "authorUserId",
    "trace_id": "traceId",
    "observation_id": "observationId",
    "session_id": "sessionId",
    "score_ids": "scoreIds",
    "environment": "environment",
    "from_timestamp": "fromTimestamp",
    "to_timestamp": "toTimestamp",
    "user_id": "userId",
    "trace_tags": "traceTags",
    "operator": "operator",
    "value": "value",
}
_SCORE_FILTERS.update({camel: camel for camel in list(_SCORE_FILTERS.values())})
# Lists the server reads as one comma-separated value; the other list filters repeat.
_COMMA_LISTS = {"name", "scoreIds"}


def _segment(value: str) -> str:
    return quote(value, safe="")


def _wire(value: Any) -> Any:
    """JSON and query values: datetimes as ISO 8601 (a naive one is taken as UTC)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


class ByteStream(Iterator[bytes]):
    """The body of an export, as chunks of bytes read from the network while iterated.

    The response is closed when the iteration ends or fails, by :meth:`close`, or on leaving a
    ``with`` block; close it yourself when you stop early. ``content_type`` is the response's
    media type.
    """

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks: Iterator[bytes] | None = response.iter_bytes()
        self.content_type: str = response.headers.get("content-type", "")

    def __iter__(self) -> ByteStream:
        return self

    def __next__(self) -> bytes:
        if self._chunks is None:
            raise StopIteration
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop reading and give the connection back."""
        self._chunks = None
        self._response.close()

    def __enter__(self) -> ByteStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class TracemarkClient:
    """A client for Tracemark's own API endpoints.

    The Langfuse-compatible endpoints (ingestion, traces, scores, score configs, the queue
    listing) are best used through the ``langfuse`` SDK; this client covers what only
    Tracemark has: processing a queue as a person (next, complete, skip, heartbeat, release),
    progress, bulk and filter adds, exports and score history.

    Args:
        base_url: where Tracemark runs (the address ``tracemark serve`` prints), without
            ``/api/public``. Ignored when ``http`` is given with a base URL of its own.
        token: a personal access token (``tm-pat-…``, from ``tracemark tokens create``), sent
            as ``Authorization: Bearer``. The client then acts as that person, with their
            role. Processing a queue needs one (role ANNOTATOR or above); managing queues
            needs MEMBER or above.
        public_key: with ``secret_key``, a project key pair (HTTP Basic). The client acts as a
            project MEMBER: it can manage queues, add items and export, but not process a
            queue, which is a person's work.
        secret_key: the secret of the key pair.
        http: an ``httpx.Client`` to send the requests with (a test client, a client with a
            proxy or custom TLS settings). The authorization header is added to each request,
            and the client is not closed by :meth:`close`. Its own timeout applies.
        timeout: seconds to wait for the server, when the client creates its own connection.

    Give either ``token`` or both keys. With neither, requests carry no authorization of
    their own (for an injected ``http`` client that adds its own).

    Every method raises :class:`TracemarkError` when the server answers 4xx or 5xx, with the
    server's message; network failures surface as ``httpx.TransportError``. Use the client
    as a context manager, or call :meth:`close`, to release its connections.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:3000",
        *,
        token: str | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = 30,
    ) -> None:
        if token is not None and (public_key is not None or secret_key is not None):
            raise ValueError("give either token or public_key and secret_key, not both")
        if (public_key is None) != (secret_key is None):
            raise ValueError("a key pair needs both public_key and secret_key")
        self._headers: dict[str, str] = {}
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"
        elif public_key is not None and secret_key is not None:
            pair = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {pair}"
        self._owns_http = http is None
        if http is None:
            http = httpx.Client(
                timeout=timeout, headers={"User-Agent": f"tracemark-client/{__version__}"}
            )
        self._http = http
        own_base = str(http.base_url)
        self.base_url: str = (own_base or base_url).rstrip("/")
        """Where the server runs, e.g. ``http://127.0.0.1:3000``."""

    # --- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections, unless the ``httpx.Client`` was passed in as ``http``."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> TracemarkClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _url(self, path: str) -> str:
        return f"{self.base_url}/api/public{path}"

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        response = self._http.request(
            method,
            self._url(path),
            json=None if json is None else _wire(json),
            params=params,
            headers=self._headers,
        )
        if response.is_error:
            raise TracemarkError.from_response(response)
        return response.json()

    def _stream(self, path: str, params: Mapping[str, Any]) -> ByteStream:
        request = self._http.build_request(
            "GET", self._url(path), params=params, headers=self._headers
        )
        response = self._http.send(request, stream=True)
        if response.is_error:
            try:
                response.read()
            finally:
                response.close()
            raise TracemarkError.from_response(response)
        return ByteStream(response)

    def _queue(self, queue_id: str) -> str:
        return f"/annotation-queues/{_segment(queue_id)}"

    def _item(self, queue_id: str, item_id: str) -> str:
        return f"{self._queue(queue_id)}/items/{_segment(item_id)}"

    # --- processing a queue (needs a personal access token) --------------------------------

    def next_item(self, queue_id: str) -> QueueItem | None:
        """Lease the next item of a queue to the caller, or None when nothing is left for them.

        Items assigned to the caller come first, then higher priority, then older ones; an item
        the caller completed or skipped is never offered again. While the lease lives, asking
        again returns the same item. The lease lasts the queue's ``leaseSeconds`` (10 minutes
        by default); extend it with :meth:`heartbeat`, end it with :meth:`complete`,
        :meth:`skip` or :meth:`release`.

        Needs a personal access token (403 with a project key). Raises :class:`TracemarkError`
        404 for a queue not in the caller's project, 403 when the caller is not one of the
        queue's members, 409 when the queue is archived.
        """
        body = self._call("POST", f"{self._queue(queue_id)}/next")
        item = body.get("item")
        return None if item is None else QueueItem.from_json(item)

    def complete(
        self,
        queue_id: str,
        item_id: str,
        scores: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        comment: str | None = None,
    ) -> Completion:
        """Save the caller's scores for an item and mark it completed by them, atomically.

        Args:
            queue_id: the queue.
            item_id: the item, as leased by :meth:`next_item`.
            scores: the values, by score config id: either ``{config_id: value, ...}`` or a
                list of ``{"configId": ..., "value": ..., "comment": ...}`` (comment optional,
                one per score). Each config must be one of the queue's; values are checked
                against it: a number in range (NUMERIC), a label or its value (CATEGORICAL),
                true/false or 1/0 (BOOLEAN), text of 1-500 characters (TEXT).
            comment: an optional comment on the annotated object, in the caller's name.

        Nothing is written when any score is invalid (:class:`TracemarkError` 400 naming the
        score and the rule). Completing again updates the caller's scores without counting a
        second completion. 409 when the item already has all its annotators and the caller
        holds no lease on it.
        """
        body: dict[str, Any] = {"scores": _score_entries(scores)}
        if comment is not None:
            body["comment"] = comment
        data = self._call("POST", f"{self._item(queue_id, item_id)}/complete", json=body)
        return Completion.from_json(data)

    def skip(self, queue_id: str, item_id: str) -> Item:
        """Skip an item for good: it is never offered to the caller again; others still get it.

        Returns the item as it stands afterwards.
        """
        return Item.from_json(self._call("POST", f"{self._item(queue_id, item_id)}/skip"))

    def heartbeat(self, queue_id: str, item_id: str) -> datetime | None:
        """Extend the caller's lease on an item by the queue's lease time; returns its new end.

        Call it every few minutes while a person keeps working on one item. Raises
        :class:`TracemarkError` 409 when the caller holds no live lease on it (it expired and
        may have gone to someone else).
        """
        data = self._call("POST", f"{self._item(queue_id, item_id)}/heartbeat")
        lease = data.get("leaseExpiresAt")
        return None if lease is None else datetime.fromisoformat(lease.replace("Z", "+00:00"))

    def release(self, queue_id: str, item_id: str) -> None:
        """Give a leased item back at once, without completing or skipping it.

        It becomes available to others, and to the caller again. 409 when the caller holds no
        lease on it.
        """
        self._call("POST", f"{self._item(queue_id, item_id)}/release")

    def iterate_queue(self, queue_id: str) -> Iterator[QueueItem]:
        """Lease the queue's items one after another, until nothing is left for the caller.

        The caller must :meth:`complete` or :meth:`skip` each item before asking for the
        next: an item neither completed nor skipped (or released) is still the caller's and
        would come back, so that raises ``RuntimeError`` instead of looping for ever. Items
        added meanwhile are picked up; the iteration ends when :meth:`next_item` answers None.

        Example::

            for item in tm.iterate_queue(queue_id):
                tm.complete(queue_id, item.id, {quality_config_id: judge(item.object)})
        """
        previous: str | None = None
        while True:
            item = self.next_item(queue_id)
            if item is None:
                return
            if item.id == previous:
                raise RuntimeError(
                    f"item {item.id} came back: complete or skip each item iterate_queue "
                    "yields before taking the next"
                )
            previous = item.id
            yield item

    def progress(self, queue_id: str) -> Progress:
        """A queue's totals (items pending, in progress, completed, skipped; completions) and
        each annotator's counts with their median seconds per item.
        """
        return Progress.from_json(self._call("GET", f"{self._queue(queue_id)}/progress"))

    # --- managing a queue (a project key pair, or a token of a MEMBER or above) -------------

    def create_queue(
        self,
        name: str,
        score_config_ids: Sequence[str],
        *,
        description: str | None = None,
        annotators_per_item: int = 1,
        lease_seconds: int | None = None,
        blind: bool = False,
        member_user_ids: Sequence[str] | None = None,
    ) -> Queue:
        """Create an annotation queue.

        Args:
            name: unique in the project (case-insensitive; 409 otherwise).
            score_config_ids: the score configs each annotator fills in, in display order.
            description: guidelines for the annotators (Markdown).
            annotators_per_item: how many people annotate each item (1-20).
            lease_seconds: how long an item stays leased to a person without a heartbeat
                (10 s to 7 days; the server's default is 600).
            blind: hide other annotators' scores from each annotator.
            member_user_ids: only these users may process the queue (default: every project
                member who may annotate).
        """
        body: dict[str, Any] = {
            "name": name,
            "scoreConfigIds": list(score_config_ids),
            "annotatorsPerItem": annotators_per_item,
            "blind": blind,
        }
        if description is not None:
            body["description"] = description
        if lease_seconds is not None:
            body["leaseSeconds"] = lease_seconds
        if member_user_ids is not None:
            body["memberUserIds"] = list(member_user_ids)
        return Queue.from_json(self._call("POST", "/annotation-queues", json=body))

    def add_items(
        self,
        queue_id: str,
        items: Iterable[tuple[str, str] | Mapping[str, Any]],
    ) -> BulkResult:
        """Add many objects to a queue.

        Args:
            queue_id: the queue.
            items: ``(object_type, object_id)`` pairs, object_type being ``"TRACE"``,
                ``"OBSERVATION"`` or ``"SESSION"``; or objects
                ``{"objectType", "objectId", "priority", "assigneeUserId"}`` for a priority
                (higher first) or an assignee.

        Returns what happened to each object: added, already in the queue (left unchanged) or
        not found in the project. Sent in requests of 10,000 objects, each one atomic; an
        empty ``items`` sends nothing.
        """
        added = 0
        present: list[tuple[str, str]] = []
        missing: list[tuple[str, str]] = []
        new: list[Item] = []
        chunk: list[dict[str, Any]] = []

        def send() -> None:
            nonlocal added
            data = self._call("POST", f"{self._queue(queue_id)}/items/bulk", json={"items": chunk})
            result = BulkResult.from_json(data)
            added += result.added
            present.extend(result.already_present)
            missing.extend(result.not_found)
            new.extend(result.items)
            chunk.clear()

        for entry in items:
            if isinstance(entry, Mapping):
                chunk.append(dict(entry))
            else:
                object_type, object_id = entry
                chunk.append({"objectType": object_type, "objectId": object_id})
            if len(chunk) >= BULK_CHUNK:
                send()
        if chunk:
            send()
        return BulkResult(added, tuple(present), tuple(missing), tuple(new))

    def add_items_from_filter(
        self,
        queue_id: str,
        filter: Mapping[str, Any],
        limit: int | None = None,
        sample: float | None = None,
    ) -> int:
        """Add every trace matching a filter to a queue, in one statement; returns how many.

        Args:
            queue_id: the queue.
            filter: the ``GET /traces`` filters, by their API names: ``userId``, ``name``,
                ``sessionId``, ``fromTimestamp``, ``toTimestamp`` (ISO 8601 or ``datetime``),
                ``tags``, ``version``, ``release``, ``environment``, ``level``. ``{}`` matches
                every trace; an unknown name is refused (400).
            limit: add at most this many traces.
            sample: add a random fraction (0-1) of the matching traces.

        Traces already in the queue are not added again nor counted.
        """
        body: dict[str, Any] = {"filter": dict(filter)}
        if limit is not None:
            body["limit"] = limit
        if sample is not None:
            body["sample"] = sample
        data = self._call("POST", f"{self._queue(queue_id)}/items/from-filter", json=body)
        return int(data["added"])

    def export_queue(self, queue_id: str, format: str = "csv") -> ByteStream:
        """A queue's results, streamed: one row per item and annotator.

        Each row has the item, the object, the annotator's id and email, their status
        (completed, skipped, in progress), when, the seconds spent, and for each score config
        a value column and a ``"<name> comment"`` column. ``format`` is ``"csv"`` (with a
        header row) or ``"jsonl"`` (one JSON object a line).

        The request is sent at once, so errors (404, a bad format) raise here; the rows are
        read while the returned :class:`ByteStream` is iterated::

            with open("results.csv", "wb") as out:
                for chunk in tm.export_queue(queue_id):
                    out.write(chunk)
        """
        return self._stream(f"{self._queue(queue_id)}/export", {"format": format})

    # --- scores -----------------------------------------------------------------------------

    def score_history(self, score_id: str) -> list[ScoreChange]:
        """Every change of a score, oldest first: who, when, old and new value and comment.

        A deleted score keeps its history. 404 for a score not in the caller's project.
        """
        data = self._call("GET", f"/scores/{_segment(score_id)}/history")
        return [ScoreChange.from_json(change) for change in data["data"]]

    def export_scores(self, format: str = "csv", **filters: Any) -> ByteStream:
        """The scores matching the filters, streamed, in ``format`` ``"csv"``, ``"json"`` or
        ``"jsonl"``.

        Filters (the ``GET /v2/scores`` ones; snake_case or the API's camelCase): ``name`` (a
        name or a list of names), ``source`` (API, EVAL, ANNOTATION), ``data_type``,
        ``config_id``, ``queue_id``, ``author_user_id``, ``trace_id``, ``observation_id``,
        ``session_id``, ``score_ids`` (a list), ``environment`` (one or a list),
        ``from_timestamp``, ``to_timestamp`` (``datetime`` or ISO 8601), ``user_id`` (the
        trace's user), ``trace_tags`` (a list; all must match), ``operator`` with ``value``
        (e.g. ``operator=">=", value=0.5``). None means no filter. An unknown name raises
        ``TypeError`` before anything is sent, so a typo cannot export every score.

        CSV columns: id, timestamp, name, dataType, value, stringValue, source, comment,
        metadata, authorUserId, authorEmail, configId, configName, queueId, traceId,
        observationId, sessionId, traceName, userId, traceTags, environment. As with
        :meth:`export_queue`, errors raise here and the rows are read while iterating.
        """
        params = httpx.QueryParams({"format": format})
        for key, value in filters.items():
            wire = _SCORE_FILTERS.get(key)
            if wire is None:
                known = ", ".join(k for k in _SCORE_FILTERS if "_" in k or k.islower())
                raise TypeError(f"export_scores: unknown filter {key!r}; known: {known}")
            if value is None:
                continue
            if isinstance(value, list | tuple | set | frozenset):
                values = [str(_wire(v)) for v in value]
                if wire in _COMMA_LISTS:
                    params = params.add(wire, ",".join(values))
                else:
                    for v in values:
                        params = params.add(wire, v)
            else:
                params = params.add(wire, str(_wire(value)))
        return self._stream("/scores/export", params)


def _score_entries(
    scores: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    if isinstance(scores, Mapping):
        return [{"configId": config_id, "value": value} for config_id, value in scores.items()]
    if isinstance(scores, str | bytes):
        raise TypeError("scores: give {config_id: value} or a list of {configId, value}")
    return [dict(entry) for entry in scores]
