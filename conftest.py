"""Fixtures for real servers that tests across the project start themselves."""

import os
import shutil
import subprocess

import pytest

import testsupport.hypothesis_profiles  # noqa: F401  (registers and loads the Hypothesis profile)
from testsupport.stack import RATE_LIMIT_CLOCK, free_port, wait_until

# Every gateway the tests start, in process or not, counts rate limits at a fixed time: the
# benchmark (not started from here) keeps the wall clock.
os.environ.setdefault("TIDEGATE_RATE_LIMIT_CLOCK", str(RATE_LIMIT_CLOCK))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A transactional test (``django_db(transaction=True)``) ends with the test database
    flushed: the rows the data migrations seeded (roles, default plans, the Default
    environment) are gone until the next serialized-rollback test reloads them. pytest-django
    orders such tests last, but pytest-xdist hands a worker whole files in an order of its own,
    so a plain test could run next on an empty database. Put the seeded rows back at once."""
    yield
    marker = item.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    from django.db import connections
    from pytest_django.plugin import blocking_manager_key

    with item.config.stash[blocking_manager_key].unblock():
        for connection in connections.all(initialized_only=True):
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents:
                connection.creation.deserialize_db_from_string(contents)


def start_redis(workdir, port: int | None = None) -> tuple[str, subprocess.Popen]:
    """A real Redis on ``port`` (a free one by default), persisting nothing."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: `make test` installs it (Debian package redis-server)")
    port = port or free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    import redis

    client = redis.Redis(port=port)
    try:
        wait_until(client.ping, 30, what="redis-server to answer")
    except TimeoutError:
        proc.kill()
        pytest.fail(f"redis-server did not start on port {port}")
    return f"redis://127.0.0.1:{port}/0", proc


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis for the whole run; started and stopped here."""
    url, proc = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL cluster in a temporary directory on a free port, for the whole run.
    PostgreSQL refuses to run as root, so it runs as the ``postgres`` user when we are root."""
    import glob
    import os

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.fail("PostgreSQL server binaries are not installed: `make test` installs them (Debian postgresql)")
    bindir = os.path.dirname(bins[-1])
    import pwd
    import tempfile
    from pathlib import Path

    # Not under pytest's own temporary directory: that one is private to root.
    workdir = Path(tempfile.mkdtemp(prefix="tidegate-pg-"))
    data = workdir / "data"
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        account = pwd.getpwnam("postgres")
        os.chown(workdir, account.pw_uid, account.pw_gid)
    subprocess.run(
        [*as_user, f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            *as_user,
            f"{bindir}/postgres",
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(workdir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )

    def ready():
        if proc.poll() is not None:
            raise AssertionError(f"postgres exited with {proc.returncode}")
        ping = [f"{bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(port)]
        return subprocess.run(ping, capture_output=True).returncode == 0

    try:
        wait_until(ready, 60, interval=0.1, what="PostgreSQL to accept connections")
    except TimeoutError as exc:
        proc.kill()
        pytest.fail(f"PostgreSQL did not start: {exc}")
    yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    proc.terminate()
    proc.wait(20)
    shutil.rmtree(workdir, ignore_errors=True)
