"""Heartbeats and permessage-deflate on the client leg, through real gateways (Uvicorn) on
free ports: a client that stops answering pings is closed and the backend told 1001; one
that answers stays; the idle timeout counts data frames only; a backend's pings are
answered while the client is silent; compression is negotiated per client, echoed
compressed, bounded by the inflated size, and absent when off."""

import asyncio
import base64
import os
import socket
import struct
import threading
import zlib

import pytest
from websockets.asyncio.server import serve
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.stack import free_port, gateway_start_refused, marked, metric, wait_until

pytestmark = pytest.mark.e2e

PLAIN = "/chat/1.0.0/plain"
# Small heartbeat settings so the tests take seconds; how soon exactly is the gateway clock's
# business and is not asserted (a loaded machine would make that flaky).
PING_ENV = {"TIDEGATE_PING_INTERVAL": "0.3", "TIDEGATE_PING_TIMEOUT": "2"}


def _gateway(stack, name: str, env: dict):
    port = free_port()
    return port, stack.spawn_gateway(name, port, env=env)


@pytest.fixture(scope="module")
def pinging(stack, chat):
    """A gateway that pings clients quiet for 0.3 s and gives them 2 s to answer."""
    port, proc = _gateway(stack, "heartbeats", PING_ENV)
    yield port
    proc.stop()


@pytest.fixture(scope="module")
def compressing(stack, chat):
    """A gateway offering permessage-deflate to clients, with a 64 KiB message limit."""
    env = {"TIDEGATE_CLIENT_COMPRESSION": "1", "TIDEGATE_MAX_FRAME_SIZE": str(64 * 1024)}
    port, proc = _gateway(stack, "compression", env)
    yield port
    proc.stop()


class Raw:
    """A client written by hand over a socket: it answers nothing unless told to."""

    def __init__(self, port: int, path: str, headers: dict):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            assert chunk, head
            head += chunk
        status, *rest = head.decode("latin-1").split("\r\n")
        assert status.startswith("HTTP/1.1 101"), head
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in rest if line)}

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError(f"closed after {len(data)} of {n} bytes")
            data += chunk
        return data

    def frame(self) -> tuple[int, bool, bytes]:
        """The next frame: opcode, RSV1 (compressed) and payload (servers do not mask)."""
        first, second = self._exact(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._exact(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._exact(8))[0]
        return first & 0x0F, bool(first & 0x40), self._exact(length)

    def send(self, opcode: int, payload: bytes, *, rsv1: bool = False) -> None:
        frame = flow.masked_frame(opcode, payload)
        self.sock.sendall(bytes([frame[0] | (0x40 if rsv1 else 0)]) + frame[1:])

    def close(self) -> None:
        self.sock.close()


def _close_code(payload: bytes) -> int:
    return struct.unpack("!H", payload[:2])[0]


def _deflate(data: bytes) -> bytes:
    """One message compressed as permessage-deflate sends it (raw deflate, the final empty
    block's four bytes cut)."""
    compressor = zlib.compressobj(wbits=-12)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def _inflate(data: bytes) -> bytes:
    return zlib.decompressobj(wbits=-15).decompress(data + b"\x00\x00\xff\xff")


# -- heartbeats ---------------------------------------------------------------------------


def test_a_client_that_stops_answering_pings_is_closed_and_the_backend_gets_1001(stack, chat, pinging):
    gateway_http = f"http://127.0.0.1:{pinging}"
    dead_before = metric(gateway_http, "tidegate_dead_peers_total", '{leg="client"}')
    marker, headers = marked(chat["headers"])
    client = Raw(pinging, PLAIN, headers)
    try:
        opcode, _, ping = client.frame()
        assert opcode == 0x9  # pinged once quiet, and not answered
        opcode, _, payload = client.frame()  # nothing but the close follows
        assert (opcode, _close_code(payload)) == (0x8, 1011)
    finally:
        client.close()
    [closed] = stack.backend_events(marker, "close")
    assert closed["code"] == 1001
    assert dead_before == 0
    wait_until(
        lambda: metric(gateway_http, "tidegate_dead_peers_total", '{leg="client"}') == 1, 10, what="one dead peer"
    )


def test_a_silent_client_that_answers_pings_stays_connected(chat, pinging):
    client = Raw(pinging, PLAIN, chat["headers"])
    try:
        for _ in range(3):  # three rounds, each well past interval + timeout after the last
            opcode, _, payload = client.frame()
            assert opcode == 0x9
            client.send(0xA, payload)
        client.send(0x1, b"still here")
        assert client.frame() == (0x1, False, b"still here")
    finally:
        client.close()


def test_the_idle_timeout_counts_data_frames_not_heartbeats(stack, chat):
    port, proc = _gateway(stack, "idle-heartbeats", {**PING_ENV, "TIDEGATE_IDLE_TIMEOUT": "1.5"})
    try:
        client = Raw(port, PLAIN, chat["headers"])
        pongs = 0
        try:
            while True:
                opcode, _, payload = client.frame()
                if opcode != 0x9:
                    break
                client.send(0xA, payload)
                pongs += 1
        finally:
            client.close()
        # Answering every ping did not keep the silent connection open.
        assert pongs >= 1
        assert (opcode, _close_code(payload), payload[2:]) == (0x8, 1001, b"Idle timeout")
    finally:
        proc.stop()


class PingingBackend:
    """An echo backend (its own thread and event loop) that pings every connection every
    0.1 s and closes it with 1011 when a pong takes over five seconds."""

    def __init__(self):
        self.port = free_port()
        self.answered = 0
        self.unanswered = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    async def _handler(self, ws):
        async def pings():
            while True:
                waiter = await ws.ping()
                try:
                    await asyncio.wait_for(waiter, 5)
                except TimeoutError:
                    self.unanswered += 1
                    await ws.close(1011, "no pong")
                    return
                self.answered += 1
                await asyncio.sleep(0.1)  # the backend's own ping interval

        pinger = asyncio.create_task(pings())
        try:
            async for message in ws:
                await ws.send(message)
        finally:
            pinger.cancel()

    def _run(self):
        async def main():
            self._stop = asyncio.get_running_loop().create_future()
            async with serve(self._handler, "127.0.0.1", self.port, ping_interval=None, compression=None):
                self._ready.set()
                await self._stop

        self._loop.run_until_complete(main())

    def stop(self):
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)


def test_a_backend_that_pings_keeps_its_connection_while_the_client_is_silent(stack, admin_http):
    backend = PingingBackend()
    try:
        api = flow.import_api(
            admin_http, documents.chat_doc(f"ws://127.0.0.1:{backend.port}", "Pinging"), context="/pinging"
        )
        flow.deploy_and_publish(admin_http, api["id"])
        app = flow.application_with_token(admin_http, "PingingClient", api["id"])
        url = f"{stack.gateway_ws}/pinging/1.0.0/plain"
        flow.wait_for_route(url, app["headers"], timeout=15)
        before = backend.answered
        with connect(url, additional_headers=app["headers"], ping_interval=None) as ws:
            # The client sends nothing while the backend pings ten times.
            wait_until(lambda: backend.answered >= before + 10, 15, what="ten pongs from the gateway")
            ws.send("after the pings")
            assert ws.recv(timeout=10) == "after the pings"
        assert backend.unanswered == 0
    finally:
        backend.stop()


# -- permessage-deflate --------------------------------------------------------------------

OFFER = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}


def test_compression_is_negotiated_with_the_client_and_echoed_compressed(stack, chat, compressing):
    marker, headers = marked({**chat["headers"], **OFFER})
    client = Raw(compressing, PLAIN, headers)
    try:
        extensions = client.headers["sec-websocket-extensions"]
        assert extensions.startswith("permessage-deflate")
        assert "server_max_window_bits=12" in extensions and "client_max_window_bits=12" in extensions
        message = b'{"say": "hello"}' * 200
        client.send(0x1, _deflate(message), rsv1=True)
        opcode, compressed, payload = client.frame()
        assert (opcode, compressed) == (0x1, True)
        assert len(payload) < len(message) // 10
        assert _inflate(payload) == message
    finally:
        client.close()
    # The backend leg negotiated nothing: it was not even offered.
    [connected] = stack.backend_events(marker, "connect")
    assert "sec-websocket-extensions" not in connected["headers"]


def test_a_compressed_message_that_inflates_past_the_limit_closes_1009(stack, chat, compressing):
    marker, headers = marked({**chat["headers"], **OFFER})
    client = Raw(compressing, PLAIN, headers)
    try:
        bomb = _deflate(b"\0" * (1024 * 1024))  # 1 MiB of zeros: about 1 KiB on the wire
        assert len(bomb) < 64 * 1024
        client.send(0x2, bomb, rsv1=True)
        opcode, _, payload = client.frame()
        assert (opcode, _close_code(payload)) == (0x8, 1009)
    finally:
        client.close()
    [closed] = stack.backend_events(marker, "close")
    assert closed["code"] == 1009


def test_a_websockets_client_gets_its_messages_back_through_compression(chat, compressing):
    url = f"ws://127.0.0.1:{compressing}{PLAIN}"
    with connect(url, additional_headers=chat["headers"], compression="deflate") as ws:
        assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
        for message in ("short", "x" * 60_000, b"\x00\x01" * 1000, ""):
            ws.send(message)
            assert ws.recv(timeout=10) == message


def test_nothing_is_negotiated_when_compression_is_off(stack, chat):
    client = Raw(stack.ws_port, PLAIN, {**chat["headers"], **OFFER})
    try:
        assert "sec-websocket-extensions" not in client.headers
        client.send(0x1, b"plain")
        assert client.frame() == (0x1, False, b"plain")
    finally:
        client.close()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("TIDEGATE_COMPRESSION_MAX_WINDOW_BITS", "20"),
        ("TIDEGATE_COMPRESSION_MEM_LEVEL", "0"),
        ("TIDEGATE_PING_INTERVAL", "-1"),
        ("TIDEGATE_PING_TIMEOUT", "0"),
    ],
)
def test_a_gateway_with_an_impossible_heartbeat_or_compression_setting_refuses_to_start(stack, setting, value):
    assert setting in gateway_start_refused({**stack.env, setting: value})


def test_a_client_that_does_not_offer_compression_is_not_compressed_on_a_compressing_gateway(stack, chat, compressing):
    # It stays on the compiled protocol (gateway/wsprotocol.py), which has no deflate: no
    # extension agreed, plain frames both ways, and a compressed frame is a protocol error.
    client = Raw(compressing, PLAIN, chat["headers"])
    try:
        assert "sec-websocket-extensions" not in client.headers
        client.send(0x1, b"plain")
        assert client.frame() == (0x1, False, b"plain")
        client.send(0x1, _deflate(b"hello"), rsv1=True)
        opcode, _, payload = client.frame()
        assert (opcode, struct.unpack("!H", payload[:2])[0]) == (0x8, 1002)
    finally:
        client.close()
