"""``rungateway --workers N``: N gateway processes on the same ws and wss ports.

A small supervisor (``supervise``, no Django app and no event loop) starts N workers, each a
whole gateway (``manage.py rungateway`` with ``TIDEGATE_WORKER_*`` in its environment): its
own snapshot pull and push subscription, its own connections.

Ports: each worker binds its own listening socket with SO_REUSEPORT (``reuseport_socket``).
The kernel then hashes every new connection's addresses onto one of the sockets, so
connections spread evenly over the workers whatever their load; with one socket shared by
all (accept() from several processes) the worker that wakes first takes most of them, and
the spread follows scheduling luck. (A worker that dies loses the connections waiting in
its own accept queue; the others keep accepting.)

Between workers: each also answers on a private unix socket in a directory the supervisor
makes (``WorkerSlot``), with its own /metrics text or /health JSON. The worker that gets a
``GET /metrics`` or ``GET /health`` on the shared port asks every worker there and merges the
answers (``merge_metrics``, ``merge_health``).

Signals: SIGTERM or SIGINT to the supervisor is passed to every worker, which drains as a
single gateway does (gateway.drain()); the supervisor exits 0 once all have exited 0. A
second signal is passed on too (the workers then exit at once). Workers run in their own
process group (a terminal's Ctrl-C or a group kill reaches the supervisor only, which
passes it on once) and get SIGTERM if the supervisor dies (PR_SET_PDEATHSIG).

A worker that dies is started again, with a log line; one that dies more than
``MAX_RESTARTS`` times within ``RESTART_WINDOW`` seconds (a port taken, a broken setting)
makes the supervisor stop the others and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.asgitypes import Receive, Scope, Send
from gateway.config import WORKER_COUNT_ENV, WORKER_DIR_ENV, WORKER_INDEX_ENV

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from gateway.process import Gateway

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
ROOT = Path(__file__).resolve().parent.parent  # where manage.py is
MAX_RESTARTS = 5
BUSY_POLL_ENV = "TIDEGATE_BUSY_POLL"
RESTART_WINDOW = 60.0
ASK_TIMEOUT = 2.0  # seconds a worker waits for another's /metrics or /health
WORKER_HEADER = b"x-tidegate-worker"  # on /health and /metrics: the pid of the worker that answered

# Gauges whose sum over workers means nothing: kept per worker, with a ``worker`` label.
PER_WORKER = frozenset(
    {
        "tidegate_snapshot_version",
        "tidegate_gateway_compiled",
        "tidegate_snapshot_age_seconds",
        "tidegate_busy_polling",
        "tidegate_busy_poll_frame_gap_seconds",
        "tidegate_busy_poll_gap_threshold_seconds",
        "tidegate_busy_poll_connection_gap_seconds",
        "tidegate_busy_poll_connection_gap_threshold_seconds",
    }
)


def parse_workers(value: str) -> int:
    """``--workers``: a positive number, or ``auto`` (one per core this process may run on)."""
    if value.strip().lower() == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of processes or 'auto', not {value!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (or 'auto'), not {count}")
    return count


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port) that other workers may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(False)
    return sock


# -- the supervisor --------------------------------------------------------------------------


def _die_with_parent() -> None:  # in the child, before exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def supervise(count: int, argv: list[str], say: Callable[[str], None]) -> int:
    """Run ``count`` workers (``argv``, each with its slot in the environment) until a signal,
    then until they have drained. Returns the exit status."""
    directory = tempfile.mkdtemp(prefix="tidegate-workers-")
    base_env = {**os.environ, WORKER_COUNT_ENV: str(count), WORKER_DIR_ENV: directory}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if count > cores and not os.environ.get(BUSY_POLL_ENV):
        # A worker polling its sockets keeps its core busy while frames flow: with more
        # workers than cores it would take that core from a sibling with frames waiting.
        base_env[BUSY_POLL_ENV] = "off"
        say(f"{count} workers on {cores} core(s): busy polling off (set {BUSY_POLL_ENV} to choose)")
    procs: dict[int, subprocess.Popen[bytes]] = {}
    deaths: dict[int, collections.deque[float]] = collections.defaultdict(collections.deque)
    state = {"stopping": False, "failed": False}

    def spawn(index: int) -> None:
        procs[index] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**base_env, WORKER_INDEX_ENV: str(index)},
            process_group=0,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def pass_on(signum: int, _frame: object = None) -> None:
        state["stopping"] = True
        for proc in procs.values():
            if proc.returncode is None:
                try:
                    os.kill(proc.pid, signum)
                except ProcessLookupError:
                    pass

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    try:
        for index in range(count):
            spawn(index)
        say(f"supervisor {os.getpid()}: {count} workers, pids {' '.join(str(p.pid) for p in procs.values())}")
        while any(p.returncode is None for p in procs.values()):
            try:
                pid, status = os.wait()  # signals are handled while waiting
            except ChildProcessError:
                break
            slot = next((i for i, p in procs.items() if p.pid == pid), None)
            if slot is None:
                continue
            procs[slot].returncode = code = os.waitstatus_to_exitcode(status)
            if state["stopping"]:
                if code != 0:
                    state["failed"] = True
                    say(f"worker {slot} (pid {pid}) exited with {code} while stopping")
                continue
            now = time.monotonic()
            recent = deaths[slot]
            recent.append(now)
            while recent and recent[0] < now - RESTART_WINDOW:
                recent.popleft()
            if len(recent) > MAX_RESTARTS:
                say(
                    f"worker {slot} (pid {pid}) exited with {code}, {len(recent)} times within "
                    f"{RESTART_WINDOW:.0f} s: stopping the other workers"
                )
                state["failed"] = True
                pass_on(signal.SIGTERM)
                continue
            spawn(slot)
            say(f"worker {slot} (pid {pid}) exited with {code}; restarted as pid {procs[slot].pid}")
    finally:
        for proc in procs.values():
            if proc.returncode is None:  # only if this very loop failed
                proc.kill()
                proc.wait()
        shutil.rmtree(directory, ignore_errors=True)
    if state["failed"]:
        return 1
    say(f"supervisor {os.getpid()}: all workers drained and stopped")
    return 0


# -- in a worker -----------------------------------------------------------------------------


@dataclass
class WorkerSlot:
    """This process is worker ``index`` of ``count``; their private sockets are in ``directory``."""

    index: int
    count: int
    directory: Path

    @classmethod
    def from_env(cls) -> WorkerSlot | None:
        if WORKER_INDEX_ENV not in os.environ:
            return None
        return cls(
            int(os.environ[WORKER_INDEX_ENV]), int(os.environ[WORKER_COUNT_ENV]), Path(os.environ[WORKER_DIR_ENV])
        )

    def path(self, index: int) -> str:
        return str(self.directory / f"worker-{index}.sock")

    def app(self, application: ASGIApp, gateway: Gateway) -> ASGIApp:
        """``application``, with this worker's private socket opened at its (first) lifespan start."""
        opened: list[asyncio.Server | None] = []

        async def worker_app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "lifespan" and not opened:  # the ws and wss servers both start one
                opened.append(None)
                path = self.path(self.index)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # a worker this one replaces left it
                opened[0] = await asyncio.start_unix_server(lambda r, w: _answer(gateway, r, w), path=path)
            await application(scope, receive, send)

        return worker_app

    async def _ask(self, index: int, what: bytes) -> bytes | None:
        try:
            async with asyncio.timeout(ASK_TIMEOUT):
                reader, writer = await asyncio.open_unix_connection(self.path(index))
                writer.write(what + b"\n")
                answer = await reader.read()
                writer.close()
                return answer
        except (OSError, TimeoutError):
            return None

    async def ask_all(self, what: bytes) -> list[bytes | None]:
        return list(await asyncio.gather(*(self._ask(i, what) for i in range(self.count))))

    async def metrics(self) -> bytes:
        answers = await self.ask_all(b"metrics")
        texts = []
        for answer in answers:
            if answer:
                pid, _, text = answer.partition(b"\n")
                texts.append((int(pid), text.decode()))
        return merge_metrics(texts, workers=self.count)

    async def health(self, own: dict[str, Any]) -> dict[str, Any]:
        answers = await self.ask_all(b"health")
        return merge_health(own, [json.loads(a) if a else None for a in answers])


async def _answer(gateway: Gateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One question on the private socket: ``metrics`` (pid, newline, the text) or ``health``."""
    try:
        what = (await reader.readline()).strip()
        if what == b"metrics":
            from prometheus_client.exposition import generate_latest

            writer.write(str(os.getpid()).encode() + b"\n" + generate_latest(gateway.frame_counters.registry))
        elif what == b"health":
            writer.write(json.dumps({**gateway.health(), "pid": os.getpid()}).encode())
        await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


def merge_health(own: dict[str, Any], workers: list[dict[str, Any] | None]) -> dict[str, Any]:
    """The whole gateway's /health: the answering worker's view, the open connections of all,
    and each worker's status; UP only if every worker answered UP."""
    listed = []
    for index, health in enumerate(workers):
        if health is None:
            listed.append({"index": index, "pid": None, "status": "DOWN"})
            continue
        listed.append(
            {
                "index": index,
                "pid": health["pid"],
                "status": health["status"],
                "openConnections": health["openConnections"],
                "snapshotVersion": health["snapshotVersion"],
                "draining": health["draining"],
            }
        )
    statuses = [w["status"] for w in listed]
    status = "UP" if all(s == "UP" for s in statuses) else ("DOWN" if "DOWN" in statuses else "STARTING")
    return {
        **own,
        "status": status,
        "openConnections": sum(w.get("openConnections") or 0 for w in listed),
        "worker": os.getpid(),
        "workers": listed,
    }


def merge_metrics(texts: Iterable[tuple[int, str]], *, workers: int) -> bytes:
    """The workers' /metrics (pid, text) as one: counters, histograms and gauges summed,
    ``PER_WORKER`` gauges kept apart with a ``worker`` label (``_created`` samples: the
    earliest); plus each worker's open connections and handshakes under ``tidegate_worker_*``
    (with ``worker``), and how many workers answered."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.exposition import generate_latest
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client.samples import Sample

    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    open_conns = GaugeMetricFamily(
        "tidegate_worker_open_connections", "WebSocket connections open now, per worker", labels=["worker"]
    )
    handshakes = CounterMetricFamily(
        "tidegate_worker_handshakes", "Handshakes by HTTP status, per worker", labels=["worker", "status"]
    )
    answered = 0
    for pid, text in texts:
        answered += 1
        for family in text_string_to_metric_families(text):
            if family.name not in families:
                families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                values[family.name] = {}
            merged = values[family.name]
            for sample in family.samples:
                labels = dict(sample.labels)
                if family.name in PER_WORKER:
                    labels["worker"] = str(pid)
                key = (sample.name, tuple(labels.items()))
                if key not in merged:
                    merged[key] = sample.value
                elif sample.name.endswith("_created"):
                    merged[key] = min(merged[key], sample.value)
                else:
                    merged[key] += sample.value
                if sample.name == "tidegate_open_connections":
                    open_conns.add_metric([str(pid)], sample.value)
                elif sample.name == "tidegate_handshakes_total":
                    handshakes.add_metric([str(pid), sample.labels["status"]], sample.value)
    for name, family in families.items():
        family.samples = [Sample(n, dict(labels), v) for (n, labels), v in values[name].items()]
    extra = [
        open_conns,
        handshakes,
        GaugeMetricFamily("tidegate_workers", "Worker processes configured", value=workers),
        GaugeMetricFamily("tidegate_workers_answering", "Worker processes that answered this scrape", value=answered),
    ]

    class _Merged:
        def collect(self) -> Iterator[Metric]:
            yield from families.values()
            yield from extra

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged())
    return generate_latest(registry)


# Set in a worker (rungateway, from its environment): gateway/http.py answers /metrics and
# /health for all workers through it.
current: WorkerSlot | None = None
