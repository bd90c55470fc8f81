"""Nothing leaks and nothing piles up: connections and tasks return to where they were after
every kind of ending, and a client that never reads cannot make the gateway buffer without
bound."""

import asyncio
import threading

import pytest
import requests
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.stack import free_port, rss_kib, wait_until

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


class StallingBackend:
    """A backend (its own thread and event loop) that reads nothing until ``release`` is
    called (its library then stops reading the socket after one message), then reads
    everything, recording the first bytes of each message."""

    def __init__(self):
        self.port = free_port()
        self.received: list[bytes] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    async def _handler(self, ws):
        await self._released
        async for message in ws:
            self.received.append(bytes(message[:6]))

    def _run(self):
        async def main():
            self._released = asyncio.get_running_loop().create_future()
            self._stop = asyncio.get_running_loop().create_future()
            async with serve(self._handler, "127.0.0.1", self.port, max_queue=1, compression=None):
                self._ready.set()
                await self._stop

        self._loop.run_until_complete(main())

    def release(self):
        self._loop.call_soon_threadsafe(self._released.set_result, None)

    def stop(self):
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)


def test_a_client_flooding_a_stalled_backend_is_paused_and_its_messages_arrive_in_order(stack, admin_http):
    """The backend stops reading, then reads fast: the gateway stops reading the client
    (its memory stays bounded) and, once the backend reads again, every message arrives,
    each once, in the order the client sent them."""
    backend = StallingBackend()
    try:
        api = flow.import_api(
            admin_http, documents.chat_doc(f"ws://127.0.0.1:{backend.port}", "Stalling"), context="/stalling"
        )
        flow.deploy_and_publish(admin_http, api["id"])
        app = flow.application_with_token(admin_http, "StallingClient", api["id"])
        flow.wait_for_route(f"{stack.gateway_ws}/stalling/1.0.0/plain", app["headers"], timeout=15)
        gateway_pid = stack.processes["gateway"].popen.pid
        before = rss_kib(gateway_pid)
        sock = flow.raw_handshake(stack.ws_port, "/stalling/1.0.0/plain", app["headers"])
        total = 1024  # 64 MiB of 64 KiB messages, far more than the sockets between can hold
        stream = memoryview(b"".join(flow.masked_frame(0x2, b"%06d" % i + b"x" * 65530) for i in range(total)))
        sock.settimeout(2)
        offset = 0
        try:
            while offset < len(stream):
                offset += sock.send(stream[offset : offset + 65536])
        except TimeoutError:
            pass  # the gateway stopped reading from us: the backend reads nothing
        grown_mib = (rss_kib(gateway_pid) - before) / 1024
        assert offset < len(stream), "the gateway read 64 MiB for a backend that reads nothing"
        assert grown_mib < 32, f"the gateway grew by {grown_mib:.0f} MiB"
        backend.release()
        sock.settimeout(30)
        sock.sendall(stream[offset:])
        wait_until(lambda: len(backend.received) >= total, 60, what="every message at the backend")
        assert backend.received == [b"%06d" % i for i in range(total)]
        sock.close()
    finally:
        backend.stop()
