from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from tracemark.cli import cli
from tracemark.db import migrate
from tracemark.db.engine import Database
from tracemark.services import accounts, credentials


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str, stdin: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(
            cli,
            [*args, "--data-dir", str(tmp_path / "data"), "--database-url", database_url],
            input=stdin,
            catch_exceptions=False,
        )

    return invoke


def one_line_error(result: Result) -> str:
    assert result.exit_code != 0
    lines = [line for line in result.output.strip().splitlines() if line]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_accounts_from_the_command_line(run, db: Database) -> None:  # type: ignore[no-untyped-def]
    created = run(
        "user",
        "create",
        "--email",
        "Eve@Example.com",
        "--name",
        "Eve",
        "--password-stdin",
        "--admin",
        stdin="a-long-password\n",
    )
    assert created.exit_code == 0, created.output
    assert "eve@example.com" in created.output and "admin" in created.output
    assert (
        run(
            "user",
            "create",
            "--email",
            "bob@example.com",
            "--name",
            "Bob",
            "--password-stdin",
            stdin="another-password\n",
        ).exit_code
        == 0
    )
    assert run("project", "create", "Support Bot", "--owner", "eve@example.com").exit_code == 0
    added = run("project", "add-member", "support bot", "BOB@example.com", "annotator")
    assert added.exit_code == 0, added.output
    assert "bob@example.com is ANNOTATOR in Support Bot" in added.output

    keys = run("keys", "create", "Support Bot")
    assert keys.exit_code == 0
    public = keys.output.split("public key: ")[1].split()[0]
    secret = keys.output.split("secret key: ")[1].split()[0]
    token = run("tokens", "create", "--email", "bob@example.com", "--project", "Support Bot")
    assert token.exit_code == 0
    assert token.output.strip().startswith("tm-pat-")

    import base64

    from tracemark.services.credentials import authenticate_header

    principal = authenticate_header(
        db, "Basic " + base64.b64encode(f"{public}:{secret}".encode()).decode()
    )
    assert principal.role.value == "MEMBER"
    person = authenticate_header(db, "Bearer " + token.output.strip())
    assert person.role.value == "ANNOTATOR"
    with db.read() as session:
        project = accounts.find_project(session, "support bot")
        assert len(credentials.list_api_keys(session, project.id)) == 1


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ("user", "create", "--email", "x", "--name", "X", "--password-stdin"),
            "long-password\n",
            "not a valid address",
        ),
        (
            ("user", "create", "--email", "x@y.z", "--name", "X", "--password-stdin"),
            "short\n",
            "at least 8 characters",
        ),
        (("project", "add-member", "Nope", "x@y.z", "MEMBER"), None, "no project named"),
        (("keys", "create", "Nope"), None, "no project named"),
        (("tokens", "create", "--email", "ghost@y.z", "--project", "Nope"), None, "no project"),
    ],
)
def test_bad_input_is_one_line(run, args: tuple[str, ...], stdin: str | None, message: str) -> None:  # type: ignore[no-untyped-def]
    line = one_line_error(run(*args, stdin=stdin))
    assert message in line


def test_duplicate_email_and_unknown_role(run) -> None:  # type: ignore[no-untyped-def]
    assert (
        run(
            "user",
            "create",
            "--email",
            "a@b.c",
            "--name",
            "A",
            "--password-stdin",
            stdin="long-password\n",
        ).exit_code
        == 0
    )
    line = one_line_error(
        run(
            "user",
            "create",
            "--email",
            "A@B.C",
            "--name",
            "A2",
            "--password-stdin",
            stdin="long-password\n",
        )
    )
    assert "already exists" in line
    assert run("project", "create", "P").exit_code == 0
    line = one_line_error(run("project", "add-member", "P", "a@b.c", "BOSS"))
    assert "unknown role 'BOSS'" in line


def test_demo_is_idempotent(run, db: Database) -> None:  # type: ignore[no-untyped-def]
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "demo@tracemark.local" in first.output and "pk-tm-demo" in first.output
    assert "200 demo traces added" in first.output
    with db.read() as session:
        before = session.execute(text("SELECT count(*) FROM observations")).scalar()
    with db.read() as session:
        scores_before = session.execute(text("SELECT count(*) FROM score_history")).scalar()
    second = run("demo")
    assert second.exit_code == 0
    assert "traces added" not in second.output
    assert first.output.splitlines()[1:] == second.output.splitlines()[1:]
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM projects")).scalar() == 1
        assert session.execute(text("SELECT count(*) FROM users")).scalar() == 3
        assert session.execute(text("SELECT count(*) FROM api_keys")).scalar() == 1
        assert session.execute(text("SELECT count(*) FROM traces")).scalar() == 200
        assert session.execute(text("SELECT count(*) FROM sessions")).scalar() >= 10
        assert session.execute(text("SELECT count(*) FROM observations")).scalar() == before
        errors = session.execute(text("SELECT count(*) FROM traces WHERE level = 'ERROR'")).scalar()
        assert errors and errors > 0
        configs = session.execute(text("SELECT data_type FROM score_configs")).scalars().all()
        assert sorted(configs) == ["BOOLEAN", "CATEGORICAL", "NUMERIC", "TEXT"]
        by_source = dict(
            session.execute(text("SELECT source, count(*) FROM scores GROUP BY source")).all()
        )
        assert by_source["EVAL"] > 100 and by_source["ANNOTATION"] > 50
        annotators = session.execute(
            text("SELECT count(DISTINCT author_user_id) FROM scores WHERE source = 'ANNOTATION'")
        ).scalar()
        assert annotators == 2
        # The two annotators reviewed some traces in common, and disagree on some of them.
        disagreements = session.execute(
            text(
                "SELECT count(*) FROM scores a JOIN scores b ON a.trace_id = b.trace_id "
                "AND a.config_id = b.config_id AND a.author_user_id < b.author_user_id "
                "WHERE a.source = 'ANNOTATION' AND b.source = 'ANNOTATION' "
                "AND a.string_value <> b.string_value"
            )
        ).scalar()
        assert disagreements and disagreements > 0
        history = session.execute(text("SELECT count(*) FROM score_history")).scalar()
        assert history == scores_before
        # Ana and Ben have already worked in the demo queue: some items are done by both, the
        # rest is left for the visitor, and their queue scores feed the agreement page.
        statuses = dict(
            session.execute(
                text("SELECT status, count(*) FROM annotation_queue_items GROUP BY status")
            ).all()
        )
        assert statuses["COMPLETED"] > 0 and statuses["PENDING"] > 0
        queue_annotators = session.execute(
            text("SELECT count(DISTINCT author_user_id) FROM scores WHERE queue_id IS NOT NULL")
        ).scalar()
        assert queue_annotators == 2
        queue = session.execute(text("SELECT id, annotators_per_item FROM annotation_queues")).one()
        assert queue[1] == 2
        items = session.execute(
            text("SELECT count(*) FROM annotation_queue_items WHERE queue_id = :q"), {"q": queue[0]}
        ).scalar()
        assert items == 30
        members = session.execute(text("SELECT count(*) FROM annotation_queue_members")).scalar()
        assert members == 3  # re-running wrote no score changes


def test_db_commands(run) -> None:  # type: ignore[no-untyped-def]
    current = run("db", "current")
    assert current.exit_code == 0 and "up to date" in current.output
    check = run("db", "check")
    assert check.exit_code == 0 and "match" in check.output


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "db",
            "current",
            "--data-dir",
            str(tmp_path),
            "--database-url",
            "postgresql+psycopg://postgres@127.0.0.1:1/none",
        ],
    )
    line = one_line_error(result)
    assert "cannot connect to postgresql+psycopg://postgres@127.0.0.1:1/none" in line


def test_serve_refuses_a_postgres_database_that_is_behind(
    postgres_url: str, tmp_path: Path
) -> None:
    db = Database(postgres_url)
    migrate.downgrade(db.engine, "base")
    try:
        result = CliRunner().invoke(
            cli, ["serve", "--data-dir", str(tmp_path), "--database-url", postgres_url]
        )
        line = one_line_error(result)
        assert "run `tracemark db upgrade`" in line
    finally:
        migrate.upgrade(db.engine)
        db.dispose()
