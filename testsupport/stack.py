"""Start the real processes on free ports: the echo backend, the portal under Daphne and
the gateway under Uvicorn, each in its own process with its own data directory."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
# The tests' rate-limit clock (TIDEGATE_RATE_LIMIT_CLOCK, set by the root conftest.py for
# every process the tests start): fixed at 2027-07-01, a multiple of a 30-day month and of a
# week, where every unit time's window begins. A test counting frames never straddles a window.
RATE_LIMIT_CLOCK = 100 * 30 * 7 * 86400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident memory of process ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def metric(http_base: str, name: str, labels: str = "") -> float | None:
    """One sample of a process's Prometheus ``/metrics`` (``labels`` as written there, e.g.
    ``{status="400"}``), or None when it has no such sample."""
    text = requests.get(f"{http_base}/metrics", timeout=5).text
    found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def marked(headers: dict | None = None) -> tuple[str, dict]:
    """A fresh marker and ``headers`` with it as ``X-Test-Marker``: the backend writes it
    on its lines for that connection (``Stack.backend_events``)."""
    marker = uuid.uuid4().hex
    return marker, {**(headers or {}), "X-Test-Marker": marker}


def wait_until(check, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - keep trying until the deadline
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what} ({last!r})")


async def async_wait_until(check, timeout: float, interval: float = 0.01, what: str = "condition"):
    """``wait_until`` inside an event loop: ``check`` may be a coroutine function, and the loop
    keeps running the code under test between tries."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - keep trying until the deadline
            last = exc
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what} ({last!r})")


def gateway_command(port: int, *, server: str = "uvicorn", tls_port: int = 0, workers: int | str = 1) -> list[str]:
    """The command line of one gateway process on ``port`` under Uvicorn or Daphne; under
    Uvicorn with ``workers`` other than 1, a supervisor of that many (``rungateway --workers``)."""
    if server == "daphne":
        # -v 0: Daphne's access log would write query strings, and with them ?access_token=
        return [
            sys.executable,
            "-m",
            "daphne",
            "-v",
            "0",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "gateway.asgi:application",
        ]
    command = [sys.executable, "manage.py", "rungateway", "--port", str(port), "--tls-port", str(tls_port)]
    return command if workers == 1 else [*command, "--workers", str(workers)]


def gateway_start_refused(env: dict[str, str]) -> str:
    """Start a gateway with ``env`` that must refuse to start; its stderr (the reason)."""
    out = subprocess.run(
        gateway_command(free_port()),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # it answers in seconds; a gateway that started would run until killed here
    )
    assert out.returncode != 0, "the gateway started"
    return out.stderr


def stop_process_group(popen: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM to the process group a process leads (``start_new_session=True``), SIGKILL
    if it has not ended within ``timeout`` seconds."""
    if popen.poll() is None:
        os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        stop_process_group(self.popen)


@dataclass
class Stack:
    data_dir: Path
    portal_port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    wss_port: int = field(default_factory=free_port)
    backend_port: int = field(default_factory=free_port)
    processes: dict[str, Process] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "TIDEGATE_DEBUG": "1",
            "TIDEGATE_DATA_DIR": str(self.data_dir),
            "TIDEGATE_PORTAL_URL": self.portal_url,
            "TIDEGATE_GATEWAY_WS_PORT": str(self.ws_port),
            "TIDEGATE_GATEWAY_WSS_PORT": str(self.wss_port),
            "TIDEGATE_SYNC_INTERVAL": "0.2",
            "TIDEGATE_BACKEND_CONNECT_TIMEOUT": "2",
            "TIDEGATE_JWKS_MIN_REFRESH": "1",
            "TIDEGATE_ANALYTICS_INTERVAL": "0.5",
            **self.extra_env,
        }

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.portal_port}"

    @property
    def gateway_ws(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def gateway_http(self) -> str:
        return f"http://127.0.0.1:{self.ws_port}"

    @property
    def backend_url(self) -> str:
        return f"ws://127.0.0.1:{self.backend_port}"

    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return out.stdout

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> Process:
        log = self.data_dir / f"{name}.log"
        fh = open(log, "wb")  # noqa: SIM115 - lives as long as the process
        popen = subprocess.Popen(
            cmd, cwd=ROOT, env={**self.env, **(env or {})}, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        proc = Process(name, popen, log)
        self.processes[name] = proc
        return proc

    def start(self) -> Stack:
        self.start_portal()
        py = sys.executable
        self._spawn(
            "backend",
            [
                py,
                "manage.py",
                "demo_backend",
                "--port",
                str(self.backend_port),
                "--control",
                "--subprotocol",
                "chat.v2",
                "--subprotocol",
                "chat.v1",
            ],
        )
        self.start_gateway()
        return self

    def start_portal(self) -> None:
        """A fresh database (migrated, demo seeded) and the portal under Daphne."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--no-input", "-v", "0")
        self.manage("seed_demo", "--backend", self.backend_url)
        cmd = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.portal_port),
            "tidegate.asgi:application",
        ]
        self._spawn("portal", cmd)
        wait_until(lambda: requests.get(f"{self.portal_url}/healthz", timeout=1).ok, 30, what="portal")

    def start_from_snapshot(self, *apis) -> Stack:
        """No portal (its port stays closed): the plain echo backend and a gateway serving
        ``apis`` (``ApiConfig``) from the snapshot it finds on disk."""
        from testsupport.snapshots import write_gateway_snapshot

        write_gateway_snapshot(self.data_dir, *apis)
        backend = self._spawn(
            "backend", [sys.executable, "manage.py", "demo_backend", "--port", str(self.backend_port)]
        )
        wait_until(lambda: "echo backend on" in backend.output(), 30, what="echo backend")
        self.start_gateway()
        return self

    def start_gateway(self) -> None:
        self._spawn("gateway", gateway_command(self.ws_port, tls_port=self.wss_port))
        wait_until(lambda: requests.get(f"{self.gateway_http}/health", timeout=1).ok, 30, what="gateway")

    def spawn_gateway(
        self,
        name: str,
        port: int,
        env: dict[str, str] | None = None,
        server: str = "uvicorn",
        workers: int | str = 1,
    ) -> Process:
        """Another gateway process (ws only) on ``port``, fed by the same portal, under
        Uvicorn (``rungateway``, with ``workers`` processes) or Daphne."""
        cmd = gateway_command(port, server=server, workers=workers)
        proc = self._spawn(name, cmd, env)
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok, 30, what=name)
        return proc

    def stop(self) -> None:
        for proc in reversed(list(self.processes.values())):
            proc.stop()

    def __enter__(self) -> Stack:
        """``with Stack(dir) as stack:`` starts it and stops it again, even when starting fails
        half-way."""
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def session(self, username: str = "admin", password: str = "admin") -> requests.Session:
        """A REST session on the portal authenticated with HTTP Basic, as scripts would be
        (``session.base`` is the portal's URL, for ``flow.call``)."""
        session = requests.Session()
        session.auth = (username, password)
        session.base = self.portal_url
        return session

    def backend_connections(self) -> list[dict]:
        lines = self.processes["backend"].output().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def backend_events(self, marker: str, event: str = "connect", count: int = 1, timeout: float = 10) -> list[dict]:
        """The backend's ``event`` lines of connections a test tagged with ``marker`` (its
        ``X-Test-Marker`` header, see ``marked``), once there are ``count`` of them."""

        def found():
            mine = [c for c in self.backend_connections() if c.get("marker") == marker and c["event"] == event]
            return mine if len(mine) >= count else None

        return wait_until(found, timeout, what=f"{count} backend {event} line(s) marked {marker}")
