"""``rungateway --workers N``: several gateway processes on one port, seen as one from outside
(/health, /metrics), rate limits split between them without Redis, drained together."""

import os
import signal
import subprocess
import sys
from contextlib import ExitStack

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench.workers import worker_pids
from gateway.ratelimit import Check, InMemoryCounters, Verdict, limit_share
from testsupport import documents, flow
from testsupport.stack import ROOT, free_port, gateway_command, wait_until

pytestmark = pytest.mark.e2e
THROTTLED = "Error code: 4003 reason: Websocket frame throttled out"


def test_a_limit_is_split_fairly_and_exactly_between_workers():
    assert [limit_share(10, i, 2) for i in range(2)] == [5, 5]
    assert [limit_share(10, i, 3) for i in range(3)] == [4, 3, 3]
    assert [limit_share(1, i, 2) for i in range(2)] == [1, 0]
    for limit in range(0, 50):
        for workers in range(1, 7):
            assert sum(limit_share(limit, i, workers) for i in range(workers)) == limit
    # A worker's own counters pass its share of a 10-a-minute limit, and no more.
    counters = InMemoryCounters(lambda: 60.0, share=(1, 3))
    check = Check("sub:s", 60, 10)
    verdicts = [counters.try_consume([check], 1).verdict for _ in range(4)]
    assert verdicts == [Verdict.PASS] * 3 + [Verdict.THROTTLE]


def _samples(http_base: str) -> dict[tuple[str, tuple], float]:
    text = requests.get(f"{http_base}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _per_worker(samples: dict, name: str, **labels: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for (sample, sample_labels), value in samples.items():
        found = dict(sample_labels)
        if sample == name and all(found.get(k) == v for k, v in labels.items()):
            pid = int(found["worker"])
            out[pid] = out.get(pid, 0) + value
    return out


def _children(pid: int) -> set[int]:
    return set(worker_pids(pid))


def _health(http_base: str) -> requests.Response:
    return requests.get(f"{http_base}/health", timeout=5)


def _open_until_both_workers_hold_some(exits: ExitStack, url: str, headers: dict, http_base: str, most: int = 40):
    """Connections to ``url`` until each of the two workers holds at least one (the kernel
    spreads them by their addresses); the connections, and the open ones per worker."""
    conns = []
    for _ in range(most):
        conns.append(exits.enter_context(connect(url, additional_headers=headers)))
        per_worker = _per_worker(_samples(http_base), "tidegate_worker_open_connections")
        if len(conns) >= 8 and len([n for n in per_worker.values() if n > 0]) == 2:
            return conns, per_worker
    raise AssertionError(f"{most} connections all landed on one worker: {per_worker}")


@pytest.fixture
def two_workers(stack, chat):
    port = free_port()
    proc = stack.spawn_gateway(f"workers-{port}", port, workers=2)
    http_base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _health(http_base).ok, 30, what="both workers UP")
    flow.wait_for_route(f"ws://127.0.0.1:{port}/chat/1.0.0/notifications", chat["headers"])
    yield proc, port, http_base
    proc.stop()


def test_two_workers_serve_one_port_and_answer_health_and_metrics_together(two_workers, chat):
    proc, port, http_base = two_workers
    workers = _children(proc.popen.pid)
    assert len(workers) == 2
    health = _health(http_base)
    body = health.json()
    assert body["status"] == "UP"
    assert [w["status"] for w in body["workers"]] == ["UP", "UP"]
    assert {w["pid"] for w in body["workers"]} == workers
    assert int(health.headers["X-Tidegate-Worker"]) in workers  # which worker answered

    url = f"ws://127.0.0.1:{port}/chat/1.0.0/notifications"
    with ExitStack() as exits:
        conns, _ = _open_until_both_workers_hold_some(exits, url, chat["headers"], http_base)
        open_per_worker = wait_until(
            lambda: (
                (n := _per_worker(_samples(http_base), "tidegate_worker_open_connections"))
                and sum(n.values()) == len(conns)
                and n
            ),
            10,
            what="every connection counted by its worker",
        )
        assert set(open_per_worker) == workers
        for i, ws in enumerate(conns):
            ws.send(f"m{i}")
            assert ws.recv(timeout=5) == f"m{i}"
        samples = _samples(http_base)
        # Frames summed over the workers: one in and one out per connection.
        assert samples[("tidegate_frames_total", (("direction", "in"),))] == len(conns)
        assert samples[("tidegate_frames_total", (("direction", "out"),))] == len(conns)
        assert samples[("tidegate_open_connections", ())] == len(conns)
        served = _per_worker(samples, "tidegate_worker_handshakes_total", status="101")
        assert set(served) == workers and all(n > 0 for n in served.values())
        assert _health(http_base).json()["openConnections"] == len(conns)


def test_sigterm_drains_every_worker_and_the_supervisor_exits_0(two_workers, chat):
    proc, port, http_base = two_workers
    workers = _children(proc.popen.pid)
    url = f"ws://127.0.0.1:{port}/chat/1.0.0/notifications"
    with ExitStack() as exits:
        conns, _ = _open_until_both_workers_hold_some(exits, url, chat["headers"], http_base)
        proc.popen.send_signal(signal.SIGTERM)
        for ws in conns:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=15)
            assert closed.value.rcvd.code == 1001  # drained: going away
    assert proc.popen.wait(timeout=30) == 0
    assert "all workers drained and stopped" in proc.output()
    for pid in workers:
        wait_until(lambda pid=pid: not os.path.exists(f"/proc/{pid}"), 10, what=f"worker {pid} gone")


def test_a_worker_that_dies_is_restarted(two_workers):
    proc, port, http_base = two_workers
    first, second = sorted(_children(proc.popen.pid))
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: f"(pid {first}) exited with -9; restarted" in proc.output(), 15, what="the restart line")
    wait_until(lambda: _health(http_base).ok, 30, what="the new worker UP")
    pids = {w["pid"] for w in _health(http_base).json()["workers"]}
    assert second in pids and first not in pids and len(pids) == 2
    assert proc.popen.poll() is None


def _echoes_until_throttled(connections) -> tuple[int, int]:
    echoed = notices = 0
    for i, ws in enumerate(connections):
        while True:
            ws.send(f"m{i}")
            reply = ws.recv(timeout=5)
            if reply == THROTTLED:
                notices += 1
                break
            assert reply == f"m{i}"
            echoed += 1
    return echoed, notices


@pytest.mark.parametrize("shared", [False, True], ids=["own-counters", "redis"])
def test_a_limit_is_split_between_workers_without_redis_and_shared_with_it(stack, admin_http, request, shared):
    name = f"10PerMinWorkers{'Redis' if shared else 'Split'}"
    context = f"/workers{'redis' if shared else 'split'}"
    flow.event_policy(admin_http, "subscription", name, 10)
    api = flow.import_api(
        admin_http, documents.chat_doc(stack.backend_url, context[1:]), context=context, policies=[name]
    )
    flow.deploy_and_publish(admin_http, api["id"])
    app = flow.application_with_token(admin_http, f"app-{context[1:]}", api["id"], plan=name)
    port = free_port()
    env = {"REDIS_URL": request.getfixturevalue("redis_url")} if shared else {}
    proc = stack.spawn_gateway(f"workers-{port}", port, env=env, workers=2)
    try:
        http_base = f"http://127.0.0.1:{port}"
        url = f"ws://127.0.0.1:{port}{context}/1.0.0/plain"
        flow.wait_for_route(url, app["headers"])
        with ExitStack() as exits:
            conns, _ = _open_until_both_workers_hold_some(exits, url, app["headers"], http_base)
            echoed, notices = _echoes_until_throttled(conns)
        # 10 events a minute, an echo is two. Shared through Redis: five round trips in all.
        # Each worker on its own counters: 5 events each, so two round trips per worker (the
        # third message is the fifth event; its echo is refused).
        assert echoed == (5 if shared else 4)
        assert notices == len(conns)  # every connection is told once
    finally:
        proc.stop()


def test_workers_sharing_a_core_do_not_busy_poll(stack, two_workers):
    """More workers than cores: the supervisor switches busy polling off (a polling worker
    would keep the core its sibling needs); with a core each they poll adaptively."""
    port = free_port()
    proc = stack._spawn(f"workers-one-core-{port}", ["taskset", "-c", "0", *gateway_command(port, workers=2)])
    try:
        http_base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _health(http_base).ok, 30, what="both workers UP on one core")
        assert "tidegate_busy_poll_windows" not in requests.get(f"{http_base}/metrics", timeout=5).text
    finally:
        proc.stop()
    _, _, own_cores = two_workers
    if len(os.sched_getaffinity(0)) >= 2:  # the fixture's workers have a core each: adaptive
        assert "tidegate_busy_poll_windows" in requests.get(f"{own_cores}/metrics", timeout=5).text


def test_workers_auto_is_one_per_core(stack, chat):
    port = free_port()
    proc = stack.spawn_gateway(f"workers-auto-{port}", port, workers="auto")
    try:
        health = _health(f"http://127.0.0.1:{port}").json()
        assert health["status"] == "UP"
        cores = len(os.sched_getaffinity(0))
        # One core: the single process, which lists no workers.
        assert len(health.get("workers", [None])) == cores
    finally:
        proc.stop()


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_workers_value_is_refused_clearly(value):
    out = subprocess.run(
        [sys.executable, "manage.py", "rungateway", "--port", str(free_port()), "--workers", value],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "argument --workers" in out.stderr
    assert ("at least 1" if value.lstrip("-").isdigit() else "'auto'") in out.stderr


def test_sigterm_drains_every_connection_of_a_single_gateway_too(stack, chat):
    """The single process (--workers 1) drains all its connections over the drain time:
    Uvicorn's own signal handling no longer ends the server at the first batch (1012)."""
    port = free_port()
    proc = stack.spawn_gateway(f"single-{port}", port)
    url = f"ws://127.0.0.1:{port}/chat/1.0.0/notifications"
    flow.wait_for_route(url, chat["headers"])
    with ExitStack() as exits:
        conns = [exits.enter_context(connect(url, additional_headers=chat["headers"])) for _ in range(6)]
        wait_until(lambda: _health(f"http://127.0.0.1:{port}").json()["openConnections"] == 6, 10, what="6 open")
        proc.popen.send_signal(signal.SIGTERM)
        codes = []
        for ws in conns:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=15)
            codes.append(closed.value.rcvd.code)
    assert codes == [1001] * 6
    assert proc.popen.wait(timeout=30) == 0
