"""The client leg's heartbeats and permessage-deflate, for the gateway's listeners under
Uvicorn. ``gateway/wsprotocol.py`` (the default protocol, on aiohttp's compiled frame reader)
applies the heartbeat rules below; ``ClientLegProtocol`` here (Uvicorn's websockets-sansio
protocol) applies them to the connections that negotiate compression, which only it
implements. ``gateway/headlimits.py`` builds both classes.

Heartbeats. Uvicorn's own keepalive pings every client every ``ws_ping_interval`` whether
or not it is talking, and when no pong comes it closes the client with 1011 and tells the
application only that the connection was lost (1005, which the relay turns into a 1000 to
the backend): a dead client looked like one that left normally, and nothing counted it.
Here a client is pinged only once it has sent nothing (no frame, no pong) for
``ping_interval`` seconds, and a client that has sent nothing at all for ``ping_timeout``
seconds after that ping is a dead peer: it gets Uvicorn's 1011 close frame (it will hardly
read it), the relay closes the backend with 1001, and ``tidegate_dead_peers_total
{leg="client"}`` counts it. A client whose last message still waits for the relay (Uvicorn
stops reading it meanwhile, so its pong cannot be read either) is not idle and never judged
dead. Pings and pongs never count as activity for ``TIDEGATE_IDLE_TIMEOUT``: the relay
never sees them.

Compression. ``extensions()`` offers permessage-deflate (RFC 7692) to clients that ask for
it, with the gateway's own window and memory limits; the backend leg never negotiates it.
The websockets library inflates a compressed message at most up to the size limit left for
it (``max_size``, ``TIDEGATE_MAX_FRAME_SIZE``), so a message that inflates past the limit is
refused with 1009 before it is inflated any further.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.base import ServerExtensionFactory
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

# What the backend is told when the gateway gives up on a client that stopped answering.
DEAD_CLIENT_CODE = 1001
DEAD_CLIENT_REASON = "Client did not answer a ping"


@dataclass(frozen=True, slots=True)
class ClientLeg:
    """How the gateway talks to clients under Uvicorn (``TIDEGATE_PING_*``,
    ``TIDEGATE_CLIENT_COMPRESSION``, ``TIDEGATE_COMPRESSION_*``)."""

    ping_interval: float = 30.0  # seconds of silence before a ping; 0: never
    ping_timeout: float = 20.0  # seconds a pinged client has to answer
    compression: bool = False
    max_window_bits: int = 12  # LZ77 window, both directions (9-15)
    mem_level: int = 5  # zlib memLevel of the gateway's compressor (1-9)

    def __post_init__(self) -> None:
        if self.ping_interval < 0:
            raise ValueError(f"TIDEGATE_PING_INTERVAL must be 0 (off) or more, not {self.ping_interval:g}")
        if self.ping_interval and self.ping_timeout <= 0:
            raise ValueError(f"TIDEGATE_PING_TIMEOUT must be more than 0, not {self.ping_timeout:g}")
        if not 9 <= self.max_window_bits <= 15:
            raise ValueError(f"TIDEGATE_COMPRESSION_MAX_WINDOW_BITS must be 9 to 15, not {self.max_window_bits}")
        if not 1 <= self.mem_level <= 9:
            raise ValueError(f"TIDEGATE_COMPRESSION_MEM_LEVEL must be 1 to 9, not {self.mem_level}")

    @classmethod
    def from_settings(cls, conf: dict[str, Any]) -> ClientLeg:
        return cls(
            ping_interval=conf["PING_INTERVAL"],
            ping_timeout=conf["PING_TIMEOUT"],
            compression=conf["CLIENT_COMPRESSION"],
            max_window_bits=conf["COMPRESSION_MAX_WINDOW_BITS"],
            mem_level=conf["COMPRESSION_MEM_LEVEL"],
        )

    def extensions(self) -> list[ServerExtensionFactory]:
        """The extensions offered to clients: permessage-deflate when compression is on.
        The window applies to what the gateway compresses, and to what a client compresses
        when it offers ``client_max_window_bits`` (RFC 7692 lets a client that does not
        offer it use 15 bits: its messages are then inflated with a 32 KiB window)."""
        if not self.compression:
            return []
        return [
            ServerPerMessageDeflateFactory(
                server_max_window_bits=self.max_window_bits,
                client_max_window_bits=self.max_window_bits,
                compress_settings={"memLevel": self.mem_level},
            )
        ]


class DeadPeers:
    """Connections the gateway closed because the peer stopped answering pings."""

    def __init__(self) -> None:
        self.client = 0

    def collect(self):
        family = CounterMetricFamily(
            "tidegate_dead_peers", "Connections closed because the peer did not answer a ping", labels=["leg"]
        )
        family.add_metric(["client"], self.client)
        yield family


DEAD_PEERS = DeadPeers()


class ClientLegProtocol(WebSocketsSansIOProtocol):
    """Uvicorn's websockets-sansio protocol with the gateway's heartbeats (see the module's
    docstring). ``client_leg`` is set on the class ``limited_protocols`` makes."""

    client_leg = ClientLeg()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        leg = self.client_leg
        self.ping_interval = leg.ping_interval or None
        self.ping_timeout = leg.ping_timeout
        self.last_heard = self.loop.time()

    def data_received(self, data: bytes) -> None:
        self.last_heard = self.loop.time()
        super().data_received(data)

    def schedule_ping(self) -> None:
        # Uvicorn's, without shortening the wait by the last round trip: a client is
        # pinged after ping_interval seconds of silence.
        assert self.ping_interval is not None
        self.ping_timer = self.loop.call_later(self.ping_interval, self.send_keepalive_ping)

    def send_keepalive_ping(self) -> None:
        assert self.ping_interval is not None
        self.ping_timer = None
        if self.read_paused:  # a message of this client waits for the relay: not idle
            self.schedule_ping()
            return
        quiet = self.loop.time() - self.last_heard
        if quiet < self.ping_interval:  # heard from since: wait until it has been quiet long enough
            self.ping_timer = self.loop.call_later(self.ping_interval - quiet, self.send_keepalive_ping)
            return
        super().send_keepalive_ping()

    def keepalive_timeout(self) -> None:
        if self.read_paused or self.last_heard > self.ping_sent_at:
            # It sent something since the ping (its pong may wait behind a message the
            # relay has not taken yet): alive. Ping again after the next quiet interval.
            self.pong_timer = None
            self.pending_ping_payload = None
            self.schedule_ping()
            return
        if not (self.close_sent or self.transport.is_closing()):
            DEAD_PEERS.client += 1
            # The relay reads this before the connection_lost that follows, and closes the
            # backend with it.
            self.queue.put_nowait(
                {"type": "websocket.disconnect", "code": DEAD_CLIENT_CODE, "reason": DEAD_CLIENT_REASON}
            )
        super().keepalive_timeout()
