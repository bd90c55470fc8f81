"""Nothing leaks and nothing piles up: connections and tasks return to where they were after
every kind of ending, and a client that never reads cannot make the gateway buffer without
bound."""

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testsupport import flow
from testsupport.stack import rss_kib, wait_until

pytestmark = pytest.mark.e2e


def _health(stack):
    return requests.get(f"{stack.gateway_http}/health", timeout=5).json()


def test_connections_and_tasks_return_to_baseline_after_every_kind_of_ending(stack, chat):
    wait_until(lambda: _health(stack)["openConnections"] == 0, 10, what="quiet gateway")
    baseline = _health(stack)["tasks"]
    url = f"{stack.gateway_ws}/chat/1.0.0/plain"
    for _ in range(20):
        with connect(url, additional_headers=chat["headers"]) as ws:  # normal close
            ws.send("a")
            ws.recv(timeout=5)
        with connect(url, additional_headers=chat["headers"]) as ws:  # backend closes
            ws.send("!close 4000 bye")
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
        with connect(url, additional_headers=chat["headers"]) as ws:  # backend vanishes
            ws.send("!drop")
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
        flow.handshake_status(url)  # refused
        flow.raw_handshake(stack.ws_port, "/chat/1.0.0/plain", chat["headers"]).close()  # gone, no close frame
    wait_until(lambda: _health(stack)["openConnections"] == 0, 10, what="all connections gone")
    wait_until(lambda: _health(stack)["tasks"] <= baseline, 10, what="tasks back to the baseline")


def test_a_client_that_never_reads_cannot_make_the_gateway_buffer_without_bound(stack, chat):
    gateway_pid = stack.processes["gateway"].popen.pid
    before = rss_kib(gateway_pid)
    sock = flow.raw_handshake(stack.ws_port, "/chat/1.0.0/plain", chat["headers"])
    frame = flow.masked_frame(0x2, b"x" * 65536)
    sock.settimeout(2)
    sent = 0
    try:
        while sent < 4000:  # up to 256 MiB of echoes that this client never reads
            sock.sendall(frame)
            sent += 1
    except TimeoutError:
        pass  # the gateway stopped reading from us: the echoes had nowhere to go
    grown_mib = (rss_kib(gateway_pid) - before) / 1024
    sock.close()
    assert sent < 4000
    assert grown_mib < 32, f"the gateway grew by {grown_mib:.0f} MiB"
    # Gone with echoes still queued for it: the gateway lets the connection and its
    # backend leg go (it used to wait on a backend that waited on it, for ever).
    wait_until(lambda: _health(stack)["openConnections"] == 0, 20, what="the connection let go")


def test_an_open_connection_costs_the_gateway_one_task_not_two(stack, chat):
    """Idle connections are what a gateway holds most of: each holds the server's task for
    its client and nothing more; messages from the backend are relayed from the backend
    leg's reader, with a task only while one has to wait (a slow client, a limit)."""
    wait_until(lambda: _health(stack)["openConnections"] == 0, 10, what="quiet gateway")
    baseline = _health(stack)["tasks"]
    url = f"{stack.gateway_ws}/chat/1.0.0/plain"
    conns = [connect(url, additional_headers=chat["headers"]) for _ in range(10)]
    try:
        for i, ws in enumerate(conns):
            ws.send(f"hello {i}")
            assert ws.recv(timeout=5) == f"hello {i}"  # relayed both ways
        wait_until(lambda: _health(stack)["openConnections"] == 10, 10, what="ten open connections")
        extra = _health(stack)["tasks"] - baseline
        assert extra <= 10, f"{extra} more tasks for 10 idle connections"
    finally:
        for ws in conns:
            ws.close()
    wait_until(lambda: _health(stack)["openConnections"] == 0, 10, what="all connections gone")
