"""Test fixtures: every storage test runs on SQLite and on PostgreSQL.

Choose engines with `--db sqlite|postgres|both` (default both). The schema always comes from
the migrations. SQLite tests each get a copy of a migrated database file; PostgreSQL tests
share one migrated database per test process and every table is emptied after each test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tracemark.app import create_app
from tracemark.config import Settings, load_settings
from tracemark.db import migrate
from tracemark.db.base import Base
from tracemark.db.engine import Database
from tracemark.db.models import Project, Role, User
from tracemark.services import accounts, credentials

PG_SERVER = os.environ.get("TM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
PG_START_HINT = (
    "PostgreSQL at 127.0.0.1:5432 is unreachable. Start it with "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
    "or run only the SQLite half with `--db sqlite`."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgres", "both"],
        default=os.environ.get("TM_TEST_DB", "both"),
        help="database engines to run storage tests on (default both)",
    )


def _engines(config: pytest.Config) -> list[str]:
    choice = config.getoption("--db")
    return ["sqlite", "postgres"] if choice == "both" else [choice]


def pytest_configure(config: pytest.Config) -> None:
    # Settings refuse unknown TRACEMARK_* variables; tests set their own explicitly.
    for name in [k for k in os.environ if k.upper().startswith("TRACEMARK_")]:
        del os.environ[name]
    if "postgres" in _engines(config) and not hasattr(config, "workerinput"):
        try:
            engine = create_engine(PG_SERVER + "/postgres", connect_args={"connect_timeout": 5})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as exc:
            pytest.exit(f"{PG_START_HINT} ({str(exc).splitlines()[0]})", returncode=3)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_name" in metafunc.fixturenames:
        metafunc.parametrize("engine_name", _engines(metafunc.config), scope="session")


def _worker_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.write_engine)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"tracemark_test_{_worker_id(request.config)}_{os.getpid()}"
    admin = create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_SERVER}/{name}"
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(engine_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of the engine under test."""
    if engine_name == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "tracemark.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        try:
            yield url
        finally:
            _empty_postgres(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url, secret_key="k" * 48)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture
def app_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    """The app in-process; no credentials attached."""
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        yield client


@dataclass
class ProjectFixture:
    project: Project
    public_key: str
    secret_key: str
    owner: User

    @property
    def auth(self) -> tuple[str, str]:
        return (self.public_key, self.secret_key)


def make_project(
    db: Database, name: str = "Acme", owner_email: str = "owner@example.com"
) -> ProjectFixture:
    with db.write() as session:
        owner = accounts.get_user_by_email(session, owner_email) or accounts.create_user(
            session, email=owner_email, name="Owner", password="owner-password"
        )
        project = accounts.create_project(session, name, owner=owner)
        key = credentials.create_api_key(session, project)
        return ProjectFixture(project, key.key.public_key, key.secret, owner)


def make_member(db: Database, project: Project, email: str, role: Role | str) -> tuple[User, str]:
    """A user with `role` in `project`, and a personal access token for it."""
    with db.write() as session:
        user = accounts.create_user(
            session, email=email, name=email.split("@")[0], password="member-password"
        )
        accounts.set_membership(session, project, user, role)
        token = credentials.create_token(session, user, project)
        return user, token.value


@pytest.fixture
def project(db: Database) -> ProjectFixture:
    return make_project(db)


# --- real `tracemark serve` subprocesses -------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    database_url: str, data_dir: Path, *, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Server:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"serve-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRACEMARK_")}
    env.update(extra_env or {})
    cmd = [
        sys.executable,
        "-m",
        "tracemark",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--database-url",
        database_url,
        "--workers",
        str(workers),
    ]
    with open(log, "wb") as handle:
        process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env)
    server = Server(f"http://127.0.0.1:{port}", process, data_dir, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tracemark serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(server.url + "/api/public/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop(kill=True)
    raise RuntimeError(f"tracemark serve did not answer within 60 s:\n{log.read_text()}")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A real `tracemark serve` on a free port, on the database under test."""
    running = start_server(database_url, tmp_path / "server-data")
    yield running
    running.stop()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"tracemark storage engines: {', '.join(_engines(config))}"]
