"""The demo echo backend: echoes every frame as it came (text as text, binary as binary,
empty ones too) and prints one JSON line per connection with the path it was asked for."""

import asyncio
import json
import sys

from django.core.management.base import BaseCommand
from websockets.asyncio.server import serve

# With --control, a text frame "!close CODE REASON" makes the backend close with that code,
# and "!drop" makes it vanish without a close handshake.
CONTROL = False
# The subprotocols this backend speaks (--subprotocol); any other one offered is logged as
# "(other)", never by its text (it could be a credential a gateway failed to take out).
ACCEPTED: list[str] = []
MARKER_HEADER = "X-Test-Marker"


async def echo(connection):
    request = connection.request
    print(
        json.dumps(
            {
                "event": "connect",
                "path": request.path,
                "subprotocol": connection.subprotocol,
                "offered": [
                    p if p in ACCEPTED else "(other)"
                    for value in request.headers.get_all("Sec-WebSocket-Protocol")
                    for p in (entry.strip() for entry in value.split(","))
                ],
                "headers": sorted({k.lower() for k in request.headers.keys()}),  # names only: values may be secrets
                "forwarded_for": request.headers.get("X-Forwarded-For"),
                # Tests tag their connections so each finds its own lines (tests/stack.py).
                "marker": request.headers.get(MARKER_HEADER),
            }
        ),
        flush=True,
    )
    try:
        async for message in connection:
            if CONTROL and message == "!drop":  # vanish without a close handshake
                connection.transport.abort()
                break
            if CONTROL and isinstance(message, str) and message.startswith("!close "):
                _, code, *reason = message.split(" ", 2)
                await connection.close(int(code), reason[0] if reason else "")
                break
            await connection.send(message)
    finally:
        print(
            json.dumps(
                {
                    "event": "close",
                    "path": request.path,
                    "code": connection.close_code,
                    "marker": request.headers.get(MARKER_HEADER),
                }
            ),
            flush=True,
        )


class Command(BaseCommand):
    help = "Run the demo WebSocket echo backend."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8080)
        parser.add_argument(
            "--subprotocol",
            action="append",
            default=[],
            help="subprotocols to accept (the first the client offers wins)",
        )
        parser.add_argument(
            "--control",
            action="store_true",
            help='obey "!close CODE REASON" and "!drop" text frames (tests of close codes)',
        )

    def handle(self, *args, host, port, subprotocol, control, **options):
        global CONTROL
        CONTROL = control
        ACCEPTED[:] = subprotocol

        def select_subprotocol(connection, offered):
            # The first offered one we speak; none offered, or none in common, is fine too.
            return next((p for p in offered if p in subprotocol), None)

        async def main():
            async with serve(
                echo,
                host,
                port,
                compression=None,
                ping_interval=None,
                max_size=None,
                select_subprotocol=select_subprotocol,
            ) as server:
                print(f"echo backend on ws://{host}:{port}", file=sys.stderr, flush=True)
                await server.serve_forever()

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass
