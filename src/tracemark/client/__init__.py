"""A Python client for Tracemark's own API endpoints.

The Langfuse-compatible endpoints (ingestion, traces, scores, score configs) are served to the
``langfuse`` SDK; :class:`TracemarkClient` covers what only Tracemark has: processing an
annotation queue as a person, queue progress, bulk and filter adds, exports, score history.
It needs only ``httpx``.

Try it against the demo. Start it; it prints the queue's URL, whose id is the part after
``/annotation-queues/``, and the demo users::

    $ tracemark demo --serve
    ...
      Annotate:  http://127.0.0.1:3000/project/<project id>/annotation-queues/<queue id>/process

In another shell, create a personal access token for the annotator Ana (it is printed once)::

    $ tracemark tokens create --email ana@tracemark.local --project "Demo project"
    tm-pat-...

Then annotate a few items as Ana, and read the queue's progress and results with the demo's
project key pair::

    from tracemark.client import TracemarkClient

    QUEUE = "<queue id>"
    with TracemarkClient("http://127.0.0.1:3000", token="tm-pat-...") as ana:
        for n, item in enumerate(ana.iterate_queue(QUEUE)):
            print(item.object["input"] if item.object else item.object_id)
            config = {c.name: c.id for c in item.configs}
            ana.complete(
                QUEUE,
                item.id,
                {
                    config["correctness"]: "correct",  # a category's label
                    config["helpfulness"]: 4,          # 1-5
                    config["grounded"]: True,
                },
                comment="checked against the knowledge base",
            )
            if n == 2:
                break  # three are enough for a try; the rest stay in the queue

    with TracemarkClient(public_key="pk-tm-demo", secret_key="sk-tm-demo") as project:
        print(project.progress(QUEUE).completions)
        with open("demo-queue.csv", "wb") as out:
            for chunk in project.export_queue(QUEUE):
                out.write(chunk)

Every error the server answers (4xx, 5xx) raises :class:`TracemarkError` with its status and
message, e.g. ``400 InvalidRequest: scores[1]: value: 9 is above the maximum 5 of
'helpfulness'``.
"""

from tracemark.client.client import ByteStream, TracemarkClient
from tracemark.client.errors import TracemarkError
from tracemark.client.models import (
    AnnotatorProgress,
    BulkResult,
    Category,
    Completion,
    Item,
    Progress,
    Queue,
    QueueItem,
    Score,
    ScoreChange,
    ScoreConfig,
)

__all__ = [
    "AnnotatorProgress",
    "BulkResult",
    "ByteStream",
    "Category",
    "Completion",
    "Item",
    "Progress",
    "Queue",
    "QueueItem",
    "Score",
    "ScoreChange",
    "ScoreConfig",
    "TracemarkClient",
    "TracemarkError",
]
