"""``make bench-paced``: what busy polling costs and buys at paced loads.

Gateways with busy polling off, adaptive (the defaults, and any other window and threshold
given) and on, side by side with nginx and a direct connection, in the benchmark's stack
(bench/run.py's ``Bench``: the same API with every check on, the client and backend pinned to
CPU 0, the proxies to CPU 1). Two tables:

- paced 64 B echoes, 100/s on 1 connection, 1,000/s and 5,000/s on 10 (each ``--seconds``
  long): each gateway's CPU (% of a core, from /proc/<pid>/stat over the paced seconds) and
  the p50 round trip (nginx and direct: p50 only);
- back-to-back 64 B ping-pong on one connection (bench.run's ``pp1``): the p50 each proxy adds
  to direct's p50, repetition by repetition.

Repetitions are interleaved (every target once per repetition, each repetition starting one
target later), medians, the spread shown.

    python -m bench.paced                          # 3 repetitions, prints the Markdown tables
    python -m bench.paced --reps 5 --seconds 5 --out /tmp/paced.json
    python -m bench.paced --adaptive 200:150 --adaptive 200:400    # more window:threshold pairs
    python -m bench.paced --smoke --out DIR/paced.json     # seconds-long: checks the harness works

From bench/run.py (one stack for everything): ``rows = paced.measure(bench)`` after
``bench.start()``, then ``paced.lines(rows)`` for Markdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import FULL, GATEWAY_CONTROL, PROXY_CPU, SMOKE, Bench, client  # noqa: E402
from gateway.busypoll import BUSY_POLL_GAP_US, BUSY_POLL_US  # noqa: E402
from testsupport import flow  # noqa: E402
from testsupport.stack import free_port, gateway_command, metric, wait_until  # noqa: E402

# (label, connections, messages a second)
LOADS = [("100/s, 1 conn", 1, 100), ("1,000/s, 10 conns", 10, 1000), ("5,000/s, 10 conns", 10, 5000)]
SIZE = 64
SECONDS = 5.0


def variants(adaptive: list[tuple[int, int]] | None = None) -> dict[str, dict[str, str]]:
    """The gateways to start, by target name: off, adaptive with the defaults (and each extra
    window:threshold pair, in µs), on with the default window."""
    out = {"poll-off": {"TIDEGATE_BUSY_POLL": "off"}}
    out[f"poll-adaptive {BUSY_POLL_US}:{BUSY_POLL_GAP_US}"] = {}  # nothing set: the defaults
    for window, gap in adaptive or []:
        if (window, gap) != (BUSY_POLL_US, BUSY_POLL_GAP_US):
            out[f"poll-adaptive {window}:{gap}"] = {
                "TIDEGATE_BUSY_POLL": "adaptive",
                "TIDEGATE_BUSY_POLL_US": str(window),
                "TIDEGATE_BUSY_POLL_GAP_US": str(gap),
            }
    out[f"poll-on {BUSY_POLL_US}"] = {"TIDEGATE_BUSY_POLL": "on"}
    return out


def start_gateways(bench: Bench, which: dict[str, dict[str, str]]) -> dict[str, dict]:
    """One gateway process per variant, pinned like bench.run's, on the benchmark's API;
    returns targets shaped like ``bench.targets``' (url, headers, pid)."""
    template = bench.targets["gateway-uvicorn"]
    quiet = {"TIDEGATE_LOG_LEVEL": "WARNING", **GATEWAY_CONTROL}
    targets = {}
    for name, env in which.items():
        port = free_port()
        proc = bench.spawn(name.replace(" ", "-").replace(":", "-"), gateway_command(port), PROXY_CPU, {**quiet, **env})
        parts = urlsplit(template["url"])
        url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))
        targets[name] = {"url": url, "headers": template["headers"], "pid": proc.pid}
    for target in targets.values():
        wait_until(
            lambda url=target["url"]: flow.handshake_status(url, template["headers"])[0] == 101,
            60,
            what="gateway route",
        )
    return targets


def _poll_counters(target: dict) -> tuple[float, float] | None:
    """The gateway's busy-polling windows opened and frames left asleep so far (its /metrics),
    or None for a target without them (direct, nginx, busy polling off)."""
    if not target["pid"]:
        return None
    http = "http://" + urlsplit(target["url"]).netloc
    windows = metric(http, "tidegate_busy_poll_windows_total")
    if windows is None:
        return None
    return windows, metric(http, "tidegate_busy_poll_skipped_total") or 0.0


def _all_targets(bench: Bench, gateways: dict[str, dict]) -> dict[str, dict]:
    """direct and nginx (latency only: nginx's CPU is its worker's, not the measured pid's),
    then the gateways."""
    return {
        "direct": {**bench.targets["direct"], "pid": None},
        "nginx": {**bench.targets["nginx"], "pid": None},
        **gateways,
    }


def measure(
    bench: Bench, reps: int = 3, seconds: float = SECONDS, gateways: dict[str, dict] | None = None
) -> list[dict]:
    """The paced table's rows: one per load and target, medians over ``reps`` interleaved
    repetitions, with each repetition's figures (``*_reps``). Starts the off/adaptive/on
    gateways (``variants()``) unless given."""
    gateways = gateways if gateways is not None else start_gateways(bench, variants())
    targets = _all_targets(bench, gateways)
    raw: dict[tuple[str, str], list[dict]] = {(load[0], t): [] for load in LOADS for t in targets}
    for rep in range(reps):
        # Each repetition starts one target later: a target does not always follow the same one.
        order = list(targets)[rep % len(targets) :] + list(targets)[: rep % len(targets)]
        for label, conns, rate in LOADS:
            for tname in order:
                target = targets[tname]
                params = {"conns": conns, "rate": rate, "seconds": seconds, "size": SIZE}
                if target["pid"]:
                    params["cpu-pid"] = target["pid"]
                before = _poll_counters(target)
                result = client("paced", target["url"], target["headers"], params)
                if before is not None:
                    after = _poll_counters(target)
                    frames = max(1, 2 * result["count"])  # each round trip: a frame in, its echo out
                    result["windows_per_frame"] = (after[0] - before[0]) / frames
                    result["skipped_per_frame"] = (after[1] - before[1]) / frames
                raw[label, tname].append(result)
                cpu = f"{result['cpu_pct']:5.1f} % CPU" if "cpu_pct" in result else " " * 11
                if "windows_per_frame" in result:
                    cpu += f" windows/frame {result['windows_per_frame']:.2f}"
                print(
                    f"rep {rep + 1} {label:18} {tname:26} {cpu} p50 {result['p50_ms']:.3f} ms "
                    f"({result['rate']:.0f}/s, late {result['late']})",
                    flush=True,
                )
    rows = []
    for (label, tname), runs in raw.items():
        row = {
            "load": label,
            "target": tname,
            "rate": statistics.median(r["rate"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p50_ms_reps": [r["p50_ms"] for r in runs],
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        }
        if "windows_per_frame" in runs[0]:
            row["windows_per_frame"] = statistics.median(r["windows_per_frame"] for r in runs)
        if "cpu_pct" in runs[0]:
            row["cpu_pct"] = statistics.median(r["cpu_pct"] for r in runs)
            row["cpu_pct_reps"] = [r["cpu_pct"] for r in runs]
        rows.append(row)
    return rows


def measure_pp1(bench: Bench, gateways: dict[str, dict], reps: int = 3) -> list[dict]:
    """bench.run's ``pp1`` (back-to-back 64 B ping-pong on one connection) through each
    target: the p50 it adds to direct's p50 in the same repetition."""
    kind, params = (SMOKE if bench.smoke else FULL)["pp1"]
    targets = _all_targets(bench, gateways)
    raw: dict[str, list[dict]] = {t: [] for t in targets}
    for rep in range(reps):
        for tname, target in targets.items():
            raw[tname].append(client(kind, target["url"], target["headers"], params))
        added = {t: raw[t][-1]["p50_ms"] - raw["direct"][-1]["p50_ms"] for t in targets if t != "direct"}
        print(f"rep {rep + 1} pp1 added p50 (ms): " + ", ".join(f"{t} {v:.3f}" for t, v in added.items()), flush=True)
    rows = []
    for tname, runs in raw.items():
        if tname == "direct":
            continue
        added = [r["p50_ms"] - d["p50_ms"] for r, d in zip(runs, raw["direct"], strict=True)]
        vs_nginx = [a - (n["p50_ms"] - d["p50_ms"]) for a, n, d in zip(added, raw["nginx"], raw["direct"], strict=True)]
        rows.append(
            {
                "target": tname,
                "added_p50_ms": statistics.median(added),
                "added_p50_ms_reps": added,
                "vs_nginx_ms_reps": vs_nginx,
                "rate": statistics.median(r["rate"] for r in runs),
            }
        )
    rows.insert(0, {"target": "direct", "p50_ms": statistics.median(r["p50_ms"] for r in raw["direct"])})
    return rows


def _spread(values: list[float], fmt: str) -> str:
    return f"{format(min(values), fmt)}-{format(max(values), fmt)}" if len(values) > 1 else ""


def lines(rows: list[dict], pp1: list[dict] | None = None) -> list[str]:
    """Markdown: the paced table (loads down, targets across; cells: CPU % of a core, p50 and,
    busy polling on, windows opened per frame; medians, the range over repetitions below),
    then the pp1 added-latency table if given."""
    targets = list(dict.fromkeys(r["target"] for r in rows))
    loads = list(dict.fromkeys(r["load"] for r in rows))
    cell = {(r["load"], r["target"]): r for r in rows}
    out = [
        "| load (64 B echoes) | " + " | ".join(targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for load in loads:
        cells = []
        for t in targets:
            r = cell[load, t]
            text = f"{r['p50_ms']:.3f} ms"
            if "cpu_pct" in r:
                text = f"{r['cpu_pct']:.1f} % · " + text
            if "windows_per_frame" in r:
                text += f" · {r['windows_per_frame']:.2f} w/f"
            cells.append(text)
        out.append(f"| {load} | " + " | ".join(cells) + " |")
        if all(len(cell[load, t]["p50_ms_reps"]) < 2 for t in targets):
            continue  # one repetition: no range
        spreads = []
        for t in targets:
            r = cell[load, t]
            text = _spread(r["p50_ms_reps"], ".3f")
            if "cpu_pct_reps" in r:
                text = _spread(r["cpu_pct_reps"], ".1f") + " · " + text
            spreads.append(text)
        out.append("| (range) | " + " | ".join(spreads) + " |")
    if pp1:
        direct = pp1[0]
        out += [
            "",
            f"Back-to-back ping-pong on one connection (`pp1`, direct p50 {direct['p50_ms']:.3f} ms): "
            "p50 added to direct's, median (range over repetitions), and each repetition's difference "
            "to nginx's added p50:",
            "",
            "| target | added p50 | − nginx's, each repetition | rate |",
            "|---|---|---|---|",
        ]
        for r in pp1[1:]:
            vs = ", ".join(f"{v * 1e3:+.0f} µs" for v in r["vs_nginx_ms_reps"])
            out.append(
                f"| {r['target']} | {r['added_p50_ms']:.3f} ms ({_spread(r['added_p50_ms_reps'], '.3f')}) | "
                f"{vs} | {r['rate']:,.0f}/s |"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=SECONDS, help="each paced load's length")
    parser.add_argument(
        "--adaptive",
        action="append",
        default=[],
        metavar="WINDOW:GAP",
        help="another adaptive gateway, window and threshold in µs (repeatable)",
    )
    parser.add_argument("--no-pp1", action="store_true", help="skip the back-to-back ping-pong table")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--smoke", action="store_true", help="one short repetition: checks the harness works")
    a = parser.parse_args()
    if a.smoke:
        a.reps, a.seconds = 1, 0.5
    extra = [tuple(int(x) for x in pair.split(":")) for pair in a.adaptive]
    bench = Bench(Path(tempfile.gettempdir()), smoke=a.smoke)  # writes nothing there: measure() does not
    try:
        bench.start()
        gateways = start_gateways(bench, variants(extra))  # type: ignore[arg-type]
        time.sleep(2)  # let the new gateways' start-up settle before measuring their CPU
        rows = measure(bench, a.reps, a.seconds, gateways)
        pp1 = None if a.no_pp1 else measure_pp1(bench, gateways, a.reps)
    finally:
        bench.stop()
    print()
    print(
        f"Paced, {a.reps} repetitions, {a.seconds:g} s each, medians; gateways' CPU in % of a core, "
        f"then p50 round trip:"
    )
    print()
    print("\n".join(lines(rows, pp1)))
    if a.out:
        a.out.write_text(json.dumps({"paced": rows, "pp1": pp1, "reps": a.reps, "seconds": a.seconds}, indent=1))


if __name__ == "__main__":
    main()
