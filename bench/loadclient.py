"""The benchmark's load client (asyncio, uvloop, websockets): one workload per run, one
JSON line of results on stdout.

    python -m bench.loadclient pingpong URL --conns 50 --msgs 500 --size 64 [--header K:V]
    python -m bench.loadclient pipeline URL --conns 10 --burst 100 --msgs 2000
    python -m bench.loadclient handshake URL --total 2000 --concurrency 20
    python -m bench.loadclient idle URL --conns 2000   (prints "holding", waits for a line on stdin)
    python -m bench.loadclient paced URL --conns 10 --rate 1000 --seconds 5 --size 64 [--cpu-pid PID]

``paced`` sends at a fixed total rate, spread evenly over the connections (message k at
k/rate seconds, on connection k mod conns), each message's round trip timed on its own; with
``--cpu-pid`` it also reports that process's CPU over the paced seconds (% of a core).

``--deflate`` offers permessage-deflate (the websockets library's default offer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import uvloop
from websockets.asyncio.client import connect

WARMUP = 5
COMPRESSION: str | None = None  # "deflate" with --deflate


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _connect(url, headers):
    return connect(
        url,
        additional_headers=headers,
        compression=COMPRESSION,
        max_size=None,
        ping_interval=None,
        open_timeout=30,
        close_timeout=5,
    )


async def _timed(url, headers, conns, payload, rounds, burst) -> dict:
    """``conns`` connections each warm up, then do ``rounds`` of: send ``burst`` messages,
    read ``burst`` echoes. Latency is per round; the rate counts messages (round trips)."""
    latencies: list[float] = []
    sockets = [await _connect(url, headers) for _ in range(conns)]

    async def run(ws):
        for _ in range(WARMUP):
            await ws.send(payload)
            await ws.recv()
        for _ in range(rounds):
            t = time.perf_counter()
            for _ in range(burst):
                await ws.send(payload)
            for _ in range(burst):
                await ws.recv()
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(run(ws) for ws in sockets))
    wall = time.perf_counter() - start
    for ws in sockets:
        await ws.close()
    total = conns * rounds * burst
    return {
        "rate": total / wall,
        "p50_ms": _pct(latencies, 50) * 1e3,
        "p99_ms": _pct(latencies, 99) * 1e3,
        "count": total,
    }


async def paced(url, headers, conns, rate, seconds, size, cpu_pid=0):
    """``rate`` messages a second for ``seconds``, message k sent at ``k / rate`` on connection
    ``k % conns``; a connection whose echo comes late sends its next one at once. The sends
    follow the event loop's timer (1 ms steps under uvloop), so above 1,000/s they leave in
    small groups. Latency is each message's round trip."""
    payload = message(size)
    sockets = [await _connect(url, headers) for _ in range(conns)]
    for ws in sockets:  # warm up, outside the measured seconds
        for _ in range(WARMUP):
            await ws.send(payload)
            await ws.recv()
    total = int(rate * seconds)
    latencies: list[float] = []
    late = 0
    loop = asyncio.get_running_loop()

    async def run(i, ws):
        nonlocal late
        for k in range(i, total, conns):
            delay = start + k / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.001:
                late += 1
            t = time.perf_counter()
            await ws.send(payload)
            await ws.recv()
            latencies.append(time.perf_counter() - t)

    cpu = _cpu_seconds(cpu_pid) if cpu_pid else 0.0
    t0 = time.perf_counter()
    start = loop.time()
    await asyncio.gather(*(run(i, ws) for i, ws in enumerate(sockets)))
    wall = time.perf_counter() - t0
    result = {
        "rate": len(latencies) / wall,
        "p50_ms": _pct(latencies, 50) * 1e3,
        "p99_ms": _pct(latencies, 99) * 1e3,
        "count": len(latencies),
        "late": late,
        "seconds": wall,
    }
    if cpu_pid:
        result["cpu_pct"] = (_cpu_seconds(cpu_pid) - cpu) / wall * 100
    for ws in sockets:
        await ws.close()
    return result


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` so far (testsupport.stack.cpu_seconds)."""
    from testsupport.stack import cpu_seconds

    return cpu_seconds(pid)


def message(size: int, as_json: bool = False) -> str:
    """A text message of ``size`` bytes: ``x`` repeated, or (``as_json``) a small JSON object
    of that size, ``{"seq": 1, "user": "bench", "text": "xx..."}`` (the payload-validation
    target's schema, bench/run.py)."""
    if not as_json:
        return "x" * size
    head = json.dumps({"seq": 1, "user": "bench", "text": ""})
    return json.dumps({"seq": 1, "user": "bench", "text": "x" * max(0, size - len(head))})


async def pingpong(url, headers, conns, msgs, size, as_json=False):
    return await _timed(url, headers, conns, message(size, as_json), rounds=msgs, burst=1)


async def pipeline(url, headers, conns, burst, msgs, as_json=False):
    return await _timed(url, headers, conns, message(64, as_json), rounds=msgs // burst, burst=burst)


async def handshake(url, headers, total, concurrency):
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(total))

    async def worker():
        nonlocal errors
        for _ in remaining:
            t = time.perf_counter()
            try:
                async with _connect(url, headers):
                    pass
                latencies.append(time.perf_counter() - t)
            except Exception:  # noqa: BLE001 - counted, reported
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return {
        "rate": len(latencies) / wall,
        "p50_ms": _pct(latencies, 50) * 1e3,
        "p99_ms": _pct(latencies, 99) * 1e3,
        "count": len(latencies),
        "errors": errors,
    }


async def idle(url, headers, conns, batch=50):
    sockets, errors = [], 0
    start = time.perf_counter()
    for i in range(0, conns, batch):

        async def one():
            ws = await _connect(url, headers)
            await ws.send("hi")
            await ws.recv()
            return ws

        results = await asyncio.gather(*(one() for _ in range(min(batch, conns - i))), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                errors += 1
            else:
                sockets.append(r)
    opened = time.perf_counter() - start
    print(json.dumps({"holding": len(sockets), "errors": errors}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    alive = 0
    for ws in sockets[:: max(1, len(sockets) // 50)][:50]:
        try:
            await ws.send("still")
            await asyncio.wait_for(ws.recv(), 5)
            alive += 1
        except Exception:  # noqa: BLE001, S110 - a dead connection is what "alive" counts
            pass
    for ws in sockets:
        await ws.close()
    return {"held": len(sockets), "errors": errors, "open_seconds": opened, "alive_of_50": alive}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=["pingpong", "pipeline", "handshake", "idle", "paced"])
    parser.add_argument("url")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--conns", type=int, default=1)
    parser.add_argument("--msgs", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--total", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1000, help="paced: messages a second, all connections")
    parser.add_argument("--seconds", type=float, default=5, help="paced: how long")
    parser.add_argument("--cpu-pid", type=int, default=0, help="paced: report this process's CPU")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--json", action="store_true", help="send JSON objects (ping-pong and pipeline)")
    a = parser.parse_args()
    global COMPRESSION
    COMPRESSION = "deflate" if a.deflate else None
    headers = dict(h.split(":", 1) for h in a.header)
    headers = {k: v.strip() for k, v in headers.items()}
    if a.workload == "pingpong":
        coro = pingpong(a.url, headers, a.conns, a.msgs, a.size, a.json)
    elif a.workload == "pipeline":
        coro = pipeline(a.url, headers, a.conns, a.burst, a.msgs, a.json)
    elif a.workload == "handshake":
        coro = handshake(a.url, headers, a.total, a.concurrency)
    elif a.workload == "paced":
        coro = paced(a.url, headers, a.conns, a.rate, a.seconds, a.size, a.cpu_pid)
    else:
        coro = idle(a.url, headers, a.conns)
    print(json.dumps(uvloop.run(coro)), flush=True)


if __name__ == "__main__":
    main()
