"""A throw-away PostgreSQL server for tests, from Debian's package (`scripts/setup postgres` installs it).

One server per test session (`postgres_server`, registered in tests/conftest.py), in a
temporary directory, on a free loopback port with its unix socket beside its data; each
test takes a fresh database from it (`new_database()`), so tests never see each other's
voices. initdb and postgres refuse to run as root: as root they run as the `postgres` OS
user. The server is stopped and its directory deleted at teardown; should the test
process die first, the server gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and exits.

If PostgreSQL cannot be started the fixture fails with the reason: the tests that need it
must not pass by skipping.
"""

from __future__ import annotations

import ctypes
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.local import free_port

BIN_DIR_ENV = "REALTIME_TTS_TEST_PG_BIN"  # a directory holding initdb and postgres, if not Debian's
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SUPERUSER = "realtime"
START_TIMEOUT_S = 60.0
PR_SET_PDEATHSIG = 1


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started for the tests; the message says why and what to run."""


def find_bin_dir() -> Path:
    """Where initdb and postgres are: $REALTIME_TTS_TEST_PG_BIN, else Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    candidates: list[Path] = []
    if os.environ.get(BIN_DIR_ENV):
        candidates.append(Path(os.environ[BIN_DIR_ENV]))
    debian = sorted(glob.glob(DEBIAN_BIN_GLOB), key=lambda path: _version_key(Path(path).parent.name), reverse=True)
    candidates += [Path(path) for path in debian]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            return candidate
    raise PostgresUnavailable(
        f"PostgreSQL is not installed (no initdb/postgres in ${BIN_DIR_ENV}, {DEBIAN_BIN_GLOB} or PATH): "
        "run `scripts/setup postgres` (it apt-get installs Debian's `postgresql`)"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _die_with_parent() -> None:
    """In the child, after it changed user: SIGTERM it when the thread that started it ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class TestPostgres:
    """One PostgreSQL server in a temporary directory; `new_database()` hands out empty databases by URL."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable  # False: no fsync (tests); True: PostgreSQL's durable defaults (benchmarks)
        self.bin_dir = find_bin_dir()
        as_root = os.geteuid() == 0
        # As root, under /tmp: $TMPDIR may lie under a directory the postgres user cannot enter (/root/...).
        self.directory = Path(tempfile.mkdtemp(prefix="realtime-tts-pg-", dir="/tmp" if as_root else None))
        self.data_dir = self.directory / "data"
        self.log_path = self.directory / "postgres.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._as_user: str | None = None
        if as_root:  # initdb and postgres refuse root
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root, and there is no `postgres` user to run PostgreSQL as: "
                    "run `scripts/setup postgres` (Debian's package creates it)"
                ) from None
            self._as_user = "postgres"
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        os.chmod(self.directory, 0o700)

    # -- life -------------------------------------------------------------------------------------
    def start(self) -> TestPostgres:
        self._run([str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], "initdb")
        for attempt in range(3):  # a free port can be taken between the probe and the bind
            self.port = free_port()
            if self._launch():
                return self
        raise PostgresUnavailable(f"PostgreSQL did not start (three tries); its log:\n{self._log_tail()}")

    def _launch(self) -> bool:
        log = open(self.log_path, "ab")
        command = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                   "-k", str(self.directory), "-c", "listen_addresses=127.0.0.1",
                   "-c", "max_connections=200", "-c", "shared_buffers=32MB"]
        if not self.durable:
            command += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         user=self._as_user, group=self._as_user, preexec_fn=_die_with_parent)
        log.close()
        import psycopg  # the `postgres` extra: imported here so that test runs without it still collect

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        self._stop_process()
        raise PostgresUnavailable(f"PostgreSQL did not accept connections within {START_TIMEOUT_S:g} s; "
                                  f"its log:\n{self._log_tail()}")

    def _run(self, command: list[str], what: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, user=self._as_user, group=self._as_user,
                              cwd=self.directory, timeout=120)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{what} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # "fast" shutdown: roll back open transactions, close clients
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)

    def stop(self) -> None:
        self._stop_process()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- use --------------------------------------------------------------------------------------
    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "voices") -> str:
        """An empty database of its own; its URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _admin(self, *statements: tuple[str, tuple[object, ...]]) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            for statement, parameters in statements:
                admin.execute(statement, parameters)  # type: ignore[arg-type]

    def drop_connections(self, url: str) -> None:
        """End every session on that database (as a restarting or failing database would)."""
        name = url.rsplit("/", 1)[1]
        self._admin(("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)))

    def take_offline(self, url: str) -> None:
        """That database out of reach: its sessions ended, new connections refused (until `bring_online`)."""
        name = url.rsplit("/", 1)[1]
        self._admin((f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false', ()))
        self.drop_connections(url)

    def bring_online(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin((f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true', ()))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TestPostgres]:
    """One PostgreSQL server for the session (started on first use); fails, never skips, when it cannot start."""
    try:
        server = TestPostgres()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        server.start()
    except PostgresUnavailable as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: TestPostgres) -> str:
    """The URL of an empty database of this test's own."""
    return postgres_server.new_database()
