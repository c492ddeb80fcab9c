"""Which objects' others' scores a person may not see yet: items of blind queues they work."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture
from tests.detail_world import tree_batch
from tests.queue_world import add_member, make_world
from tests.web.test_queue_pages import ingest
from tracemark.db.engine import Database
from tracemark.db.models import Role
from tracemark.services import queue_work, queues
from tracemark.services.blind import blind_for

OBJECTS = {
    "traces": ["tr-1", "tr-2"],
    "observations": ["obs-llm", "obs-tool"],
    "sessions": ["conv-1"],
}


def test_blind_objects_by_kind_membership_role_and_completion(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    ingest(app_client, project, tree_batch())
    world = make_world(db, project, ["tr-1"], annotators_per_item=1)
    ann, bob = world.annotators
    pid = world.project_id
    with db.write() as session:
        queues.update_queue(session, pid, world.queue_id, {"blind": True})
        queues.add_items(
            session,
            pid,
            world.queue_id,
            [queues.ObjectRef("OBSERVATION", "obs-llm"), queues.ObjectRef("SESSION", "conv-1")],
        )
    mia = add_member(db, project, "mia@example.com", Role.MEMBER)

    def blind(user_id: str, role: Role) -> tuple[set[str], set[str], set[str]]:
        with db.read() as session:
            b = blind_for(session, pid, user_id, role, **OBJECTS)
        return set(b.traces), set(b.observations), set(b.sessions)

    everything = ({"tr-1"}, {"obs-llm"}, {"conv-1"})
    assert blind(ann.user.id, Role.ANNOTATOR) == everything
    # Viewers do not annotate; people who manage queues read the results: nothing hidden.
    assert blind(world.viewer.user.id, Role.VIEWER) == (set(), set(), set())
    assert blind(mia.user.id, Role.MEMBER) == (set(), set(), set())

    # Ann completes the trace item: it is no longer hidden from her, still from Bob.
    with db.write() as session:
        leased = queue_work.next_item(session, pid, world.queue_id, queue_work.Worker(ann.user.id))
        assert leased is not None and leased.item.object_id == "tr-1"
        queue_work.complete_item(
            session, pid, world.queue_id, leased.item.id, queue_work.Worker(ann.user.id), [], None
        )
    assert blind(ann.user.id, Role.ANNOTATOR) == (set(), {"obs-llm"}, {"conv-1"})
    assert blind(bob.user.id, Role.ANNOTATOR) == everything

    # A queue with members blinds only them; an archived queue blinds no one.
    with db.write() as session:
        queues.update_queue(session, pid, world.queue_id, {"memberUserIds": [ann.user.id]})
    assert blind(bob.user.id, Role.ANNOTATOR) == (set(), set(), set())
    assert blind(ann.user.id, Role.ANNOTATOR) == (set(), {"obs-llm"}, {"conv-1"})
    with db.write() as session:
        queues.update_queue(session, pid, world.queue_id, {"archived": True})
    assert blind(ann.user.id, Role.ANNOTATOR) == (set(), set(), set())
