"""The client leg on the compiled frame codec (gateway/wsprotocol.py), over raw sockets
against the real gateway under Uvicorn (a configuration from disk, the demo echo backend,
no portal): the upgrade request parsed once, frames however the client cuts them,
fragmented messages with control frames between their fragments, and the protocol errors
a client gets 1002 for."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import sys

import pytest

from testsupport import flow
from testsupport.snapshots import open_and_secure_apis, write_gateway_snapshot
from testsupport.stack import Stack, rss_kib, wait_until

pytestmark = pytest.mark.e2e

WAIT = 30  # hang detector only


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("wsprotocol"))
    try:
        yield stack.start_from_snapshot(*open_and_secure_apis(stack.backend_url))
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def gw_control(tmp_path_factory):
    """The same, with an echo backend that obeys "!close CODE REASON" (demo_backend --control):
    the gateway closes first when the backend does."""
    stack = Stack(tmp_path_factory.mktemp("wsprotocol-control"))
    try:
        write_gateway_snapshot(stack.data_dir, *open_and_secure_apis(stack.backend_url))
        command = [sys.executable, "manage.py", "demo_backend", "--port", str(stack.backend_port), "--control"]
        backend = stack._spawn("backend", command)
        wait_until(lambda: "echo backend on" in backend.output(), 30, what="echo backend")
        stack.start_gateway()
        yield stack
    finally:
        stack.stop()


def upgrade_head(port: int, path: str = "/open/1.0.0/ws", version: bytes = b"HTTP/1.1") -> bytes:
    key = base64.b64encode(os.urandom(16))
    return (
        b"GET " + path.encode() + b" " + version + b"\r\nHost: 127.0.0.1:%d\r\n" % port
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )  # fmt: skip


class Client:
    """A raw client: sends bytes as given, reads the response head and then server frames."""

    def __init__(self, port: int, first: bytes = b""):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.sock.sendall(upgrade_head(port) + first)
        self.status = self.head()

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed; unread: {self.buf[:100]!r}")
        self.buf += chunk

    def head(self) -> int:
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return int(head.split(b" ")[1])

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self) -> tuple[int, bytes]:
        first, second = self._take(2)
        assert not second & 0x80, "a server frame must not be masked"
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8))[0]
        return first & 0x0F, self._take(n)

    def close_code(self) -> tuple[int, str]:
        """The close frame the server sends next (skipping data frames), as (code, reason)."""
        while True:
            opcode, payload = self.frame()
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    def close(self) -> None:
        self.sock.close()


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    """One client frame with any FIN bit and with or without the mask."""
    key = os.urandom(4) if mask else b""
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([first, m | n])
    elif n < 65536:
        head = bytes([first, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([first, m | 127]) + struct.pack("!Q", n)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if mask else payload
    return head + key + body


def test_a_message_sent_right_behind_the_upgrade_request_is_relayed(gw):
    # The old path re-serialised the parsed head for the websockets library and dropped
    # whatever had come after it in the same read: this message was lost.
    client = Client(gw.ws_port, first=flow.masked_frame(0x1, b"early"))
    try:
        assert client.status == 101
        assert client.frame() == (0x1, b"early")
    finally:
        client.close()


def test_an_http_1_0_upgrade_is_refused_with_400(gw):
    # The old path rebuilt the request line as HTTP/1.1, so the WebSocket library accepted
    # a handshake it refuses when it sees the real version.
    with socket.create_connection(("127.0.0.1", gw.ws_port), timeout=WAIT) as sock:
        sock.sendall(upgrade_head(gw.ws_port, version=b"HTTP/1.0"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert json.loads(body)["code"] == "400"


def test_frames_cut_anywhere_between_reads_are_reassembled(gw):
    client = Client(gw.ws_port)
    try:
        # A 7-bit, a 16-bit and a 64-bit length, each cut inside its header, its length,
        # its mask and its payload, each piece its own write.
        messages = [b"a" * 100, b"b" * 300, b"c" * 70_000]
        stream = b"".join(flow.masked_frame(0x2, m) for m in messages)
        cuts = [1, 2, 3, 5, 9, 106, 107, 108, 110, 113, 200, 420, 421, 423, 430, 437, 5000]
        for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            client.sock.sendall(stream[a:b])
        for m in messages:
            assert client.frame() == (0x2, m)
    finally:
        client.close()


def test_a_fragmented_message_with_a_ping_between_its_fragments(gw):
    client = Client(gw.ws_port)
    try:
        client.sock.sendall(
            frame(0x1, "κό".encode()[:3], fin=False)  # a fragment ending inside a character
            + frame(0x9, b"between")
            + frame(0x0, "κόσμε".encode()[3:6], fin=False)
            + frame(0xA, b"unsolicited pong")  # ignored
            + frame(0x0, "κόσμε".encode()[6:])
        )
        assert client.frame() == (0xA, b"between")  # the ping is answered at once
        assert client.frame() == (0x1, "κόσμε".encode())  # the whole message, relayed as one
    finally:
        client.close()


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(frame(0x1, b"plain", mask=False), id="unmasked"),
        pytest.param(frame(0x3, b"x"), id="reserved-opcode"),
        pytest.param(frame(0x9, b"p", fin=False), id="fragmented-ping"),
        pytest.param(frame(0x0, b"x"), id="continuation-without-start"),
        pytest.param(bytes([0xC1]) + frame(0x1, b"x")[1:], id="rsv1-without-deflate"),
        pytest.param(frame(0x1, b"a", fin=False) + frame(0x1, b"b"), id="new-message-inside-another"),
    ],
)
def test_protocol_errors_close_with_1002(gw, bad):
    client = Client(gw.ws_port)
    try:
        client.sock.sendall(bad)
        assert client.close_code()[0] == 1002
    finally:
        client.close()


def test_an_unmasked_frame_cut_inside_its_header_is_still_caught(gw):
    client = Client(gw.ws_port)
    try:
        bad = frame(0x2, b"z" * 300, mask=False)
        client.sock.sendall(flow.masked_frame(0x2, b"ok"))
        assert client.frame() == (0x2, b"ok")
        client.sock.sendall(bad[:1])
        client.sock.sendall(bad[1:])
        assert client.close_code() == (1002, "incorrect masking")
    finally:
        client.close()


def test_the_close_handshake_answers_the_clients_code_and_ends_the_connection(gw):
    client = Client(gw.ws_port)
    try:
        client.sock.sendall(flow.masked_frame(0x8, struct.pack("!H", 4001) + b"bye"))
        assert client.close_code() == (4001, "bye")
        client.sock.settimeout(WAIT)
        assert client.sock.recv(100) == b""  # and the server closed the TCP connection
    finally:
        client.close()


def test_a_websocket_version_other_than_13_is_426_naming_13(gw):
    # RFC 6455, 4.2.2: the server answers with the version it understands.
    head = upgrade_head(gw.ws_port).replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8")
    with socket.create_connection(("127.0.0.1", gw.ws_port), timeout=WAIT) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 426 "), head
    assert b"\r\nsec-websocket-version: 13" in head.lower()
    assert json.loads(body)["code"] == "426"


def test_large_messages_both_ways_over_wss(gw):
    # Frames of 16- and 64-bit lengths written as header and payload together, through TLS.
    import ssl

    from testsupport import wsclient  # not the threading client: it can lose a request over TLS

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sizes = (125, 126, 20_000, 70_000)
    url = f"wss://127.0.0.1:{gw.wss_port}/open/1.0.0/ws"
    answers = wsclient.exchange(url, [b"w" * size for size in sizes], ssl=context, timeout=WAIT, compression=None)
    assert answers == [b"w" * size for size in sizes]


@pytest.mark.parametrize("code", [1006, 5000, 65535])
def test_a_close_code_forbidden_on_the_wire_is_answered_with_1002(gw, code):
    # RFC 6455, 7.4: 1006 is never sent, nothing from 5000 on is defined. aiohttp's reader
    # let both through and the gateway echoed the client's code back (Autobahn 7.9.x, 7.13.x).
    client = Client(gw.ws_port)
    try:
        client.sock.sendall(frame(0x8, struct.pack("!H", code) + b"bye"))
        assert client.close_code()[0] == 1002
    finally:
        client.close()


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(frame(0x3, b"x"), id="reserved-opcode"),
        pytest.param(frame(0x2, b"plain", mask=False), id="unmasked"),
    ],
)
def test_a_protocol_error_after_the_gateways_close_ends_the_connection_without_a_second_close(gw_control, bad):
    # RFC 6455, 5.5.1: one close frame each way. The gateway had sent the backend's close
    # and then answered the client's broken frame with a second close frame (1002).
    client = Client(gw_control.ws_port)
    try:
        client.sock.sendall(flow.masked_frame(0x1, b"!close 4321 bye"))
        assert client.close_code() == (4321, "bye")
        client.sock.sendall(bad)
        while chunk := client.sock.recv(65536):
            client.buf += chunk
        assert client.buf == b""  # nothing more: the TCP connection just ends
    finally:
        client.close()


def test_nothing_but_the_101_goes_out_before_the_handshake_is_answered(gw):
    """A ping in the same packet as the upgrade request is answered after the 101, never
    before it (RFC 6455 4.2.2): a pong ahead of the status line broke the client's handshake."""
    client = Client(gw.ws_port, first=frame(0x9, b"early ping"))
    try:
        assert client.status == 101
        assert client.frame() == (0xA, b"early ping")
    finally:
        client.close()


def test_a_client_gone_before_its_accept_leaves_no_backend_connection_open(gw):
    """The client sends its upgrade request and leaves at once: the gateway has already
    opened the backend leg by the time its accept fails, and must close it again (it stayed
    open for good, a descriptor and a backend connection per such client)."""
    marker = f"gone-{os.urandom(4).hex()}"
    head = upgrade_head(gw.ws_port).replace(b"\r\n\r\n", f"\r\nX-Test-Marker: {marker}\r\n\r\n".encode())
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", gw.ws_port), timeout=WAIT) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset: gone
            sock.sendall(head)
    gw.backend_events(marker, "connect")  # the gateway did open the backend leg

    def every_leg_closed() -> bool:
        mine = [c["event"] for c in gw.backend_connections() if c.get("marker") == marker]
        return mine.count("close") == mine.count("connect")

    wait_until(every_leg_closed, 10, what="a backend close for every backend connect")


def test_a_ping_flood_from_a_client_that_never_reads_does_not_grow_the_gateway(gw):
    """Pings from a client that reads nothing: the gateway owes one pong, the latest, instead
    of buffering a pong for every ping (1.8 GB in 12 s before)."""
    gateway_pid = gw.processes["gateway"].popen.pid
    client = Client(gw.ws_port)
    try:
        before = rss_kib(gateway_pid)
        ping = frame(0x9, b"p" * 125)
        batch = ping * 1000  # 131 KB
        for _ in range(400):  # 52 MB of pings, 400,000 pongs' worth
            client.sock.sendall(batch)
        grown_mib = (rss_kib(gateway_pid) - before) / 1024
        assert grown_mib < 24, f"the gateway grew by {grown_mib:.0f} MiB"
        # Still alive and answering once the client reads: its pongs, then an echo.
        client.sock.sendall(frame(0x1, b"still there"))
        while (got := client.frame()) != (0x1, b"still there"):
            assert got[0] == 0xA, got
    finally:
        client.close()
