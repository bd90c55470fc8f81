"""``make bench``: the gateway against nginx and a direct connection, in one run.

Starts the echo backend, nginx (a plain WebSocket proxy) and the gateway with everything
on (a real JWT, a subscription, API, subscription and application rate limits that never
trip) under Uvicorn and under Daphne, plus the Uvicorn gateway on an open topic (no token,
no limits) to show what enforcement costs, one without analytics, one with busy polling
always on and one with it off (the default is adaptive), one with client compression
(TIDEGATE_CLIENT_COMPRESSION, the load client offering permessage-deflate), the Uvicorn
gateway on an API with payload validation on both ways (a small object schema, valid JSON
messages of the same size), two worker processes sharing one port (rungateway --workers 2),
and the bare relay the gateway is built on (bench/raw_relay.py).
With two or more cores the client and backend are pinned to CPU 0 and the proxy under test
to CPU 1. Workloads run interleaved, three repetitions, medians; results go to JSON, a
Markdown table and a chart.

    python -m bench.run                 # full run, writes docs/benchmarks.{md,json,png}
    python -m bench.run --smoke --out DIR   # seconds-long, for CI: checks the harness works
    python -m bench.run --workloads pp1,pp50 --reps 1 --out DIR   # a short run of some
        workloads, no idle-memory runs: prints the figures, writes DIR/benchmarks.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import validators, workers  # noqa: E402
from bench.validators import SCHEMA as VALIDATORS_SCHEMA  # noqa: E402
from testsupport import flow  # noqa: E402
from testsupport.stack import Stack, cpu_seconds, free_port, gateway_command, rss_kib, wait_until  # noqa: E402

# Each run lasts one to three seconds. At 500 round trips a connection the 16 KiB run took 0.4 s
# and the pipelined one 0.6 s: a moment's stall of the host moved their rate by a fifth between
# repetitions (docs/benchmarks.md, 2026-11-30), and the handshakes of the run's connections
# were a larger part of the CPU counted.
FULL = {
    "pp1": ("pingpong", {"conns": 1, "msgs": 5000, "size": 64}),
    "pp50": ("pingpong", {"conns": 50, "msgs": 1000, "size": 64}),
    "pp16k": ("pingpong", {"conns": 10, "msgs": 2000, "size": 16384}),
    "pipe": ("pipeline", {"conns": 10, "burst": 100, "msgs": 6000}),
    "hs": ("handshake", {"total": 2000, "concurrency": 20}),
}
SMOKE = {
    "pp1": ("pingpong", {"conns": 1, "msgs": 50, "size": 64}),
    "pp50": ("pingpong", {"conns": 5, "msgs": 20, "size": 64}),
    "pp16k": ("pingpong", {"conns": 2, "msgs": 20, "size": 16384}),
    "pipe": ("pipeline", {"conns": 2, "burst": 10, "msgs": 100}),
    "hs": ("handshake", {"total": 40, "concurrency": 4}),
}
LABELS = {
    "pp1": "1 conn × 64 B ping-pong (round trips/s)",
    "pp50": "50 conns × 64 B ping-pong (round trips/s)",
    "pp16k": "10 conns × 16 KiB ping-pong (round trips/s)",
    "pipe": "pipelined bursts of 100 on 10 conns (msgs/s)",
    "hs": "handshakes at concurrency 20 (conn/s)",
}
# Targets of issue 4, for the Uvicorn gateway with enforcement on.
TARGETS = {"pp50": 1.0, "pp16k": 1.2, "pipe": 1.1, "hs": 0.9}
# Issue 21: the gateway's own cost, shown beside nginx's in the same run.
COST_TARGETS_US = {
    "pp50": ("gateway CPU per round trip, 50 × 64 B", 30),
    "hs": ("gateway CPU per handshake, full checks", 450),
}
IDLE_TARGET_KIB = 22
# Issue 18: payload validation (both ways) adds at most this much gateway CPU per round trip at 50 × 64 B.
VALIDATION_TARGET_US = 15
IDLE_CONNS = 2000
# A proxied connection costs the gateway two descriptors; this machine's hard limit is
# 20,000 per process, so one gateway process can hold a little under 10,000.
MANY_IDLE = 9500

# The gateways' control-plane timings are the production defaults, not the test stack's
# (pull every 0.2 s, analytics every 0.5 s): with those, four gateways' requests kept the
# portal, which is not pinned, about 16 % busy on either measured core at random.
GATEWAY_CONTROL = {"TIDEGATE_SYNC_INTERVAL": "0.25", "TIDEGATE_ANALYTICS_INTERVAL": "5"}

# The default gateway polls adaptively (gateway/busypoll.py); two more show polling always on
# and off (the default before issue 21), each other setting at its default.
BUSY_POLL_ON = {"TIDEGATE_BUSY_POLL": "on"}
BUSY_POLL_OFF = {"TIDEGATE_BUSY_POLL": "off"}
BUSY_POLL_ALWAYS = "TIDEGATE_BUSY_POLL=on"
# The paced table (bench/paced.py) over the three busy-polling settings, by its names for them;
# adaptive polling may cost at most 10 % more gateway CPU than none at 1,000 messages a second.
PACED_GATEWAYS = {
    "poll-off": "gateway-uvicorn-nopoll",
    "poll-adaptive (default)": "gateway-uvicorn",
    "poll-on": "gateway-uvicorn-busypoll",
}
PACED_LOAD = "1,000/s, 10 conns"
PACED_CPU = 1.10
PACED_SMOKE_SECONDS = 0.5
# The multi-process gateway's target: worker processes sharing one port (rungateway --workers).
WORKERS = 2
# Issue 21: the kernel spreads the run's connections within 10 % between the workers, and a
# round trip costs the workers together no more than it costs one process (within 10 %).
WORKERS_SPREAD = 0.10
WORKERS_CPU = 1.10

CPUS = os.cpu_count() or 1
CLIENT_CPU, PROXY_CPU = ("0", "1") if CPUS >= 2 else (None, None)


def pinned(cpu: str | None, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *cmd] if cpu and shutil.which("taskset") else cmd


def raw_relay_command(port: int) -> list[str]:
    """The bare relay (bench/raw_relay.py) under the gateway's Uvicorn settings, minus logging."""
    return [
        sys.executable, "-m", "uvicorn", "bench.raw_relay:app", "--host", "127.0.0.1", "--port", str(port),
        "--ws", "websockets-sansio", "--loop", "uvloop", "--http", "httptools", "--ws-max-size", str(2**24),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def client(workload: str, url: str, headers: dict, params: dict, extra: tuple[str, ...] = ()) -> dict:
    cmd = [sys.executable, "-m", "bench.loadclient", workload, url, *extra]
    for k, v in headers.items():
        cmd += ["--header", f"{k}:{v}"]
    for k, v in params.items():
        cmd += [f"--{k}", str(v)]
    out = subprocess.run(pinned(CLIENT_CPU, cmd), cwd=ROOT, capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(f"load client failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Bench:
    def __init__(self, out: Path, smoke: bool):
        self.out = out
        self.smoke = smoke
        self.dir = Path(tempfile.mkdtemp(prefix="tidegate-bench-"))
        self.stack = Stack(self.dir / "stack")
        self.procs: dict[str, subprocess.Popen] = {}
        self.targets: dict[str, dict] = {}

    # -- processes --------------------------------------------------------------------------
    def spawn(self, name: str, cmd: list[str], cpu: str | None, env: dict | None = None) -> subprocess.Popen:
        log = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            pinned(cpu, cmd),
            cwd=ROOT,
            env={**self.stack.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start(self) -> None:
        self.stack.start_portal()
        backend_port = self.stack.backend_port
        self.spawn("backend", [sys.executable, "bench/echo_server.py", str(backend_port)], CLIENT_CPU)
        wait_until(lambda: _tcp_open(backend_port), 10, what="echo backend")

        nginx_port = free_port()
        (self.dir / "tmp").mkdir()
        conf = (
            (ROOT / "bench" / "nginx.conf.template")
            .read_text()
            .format(dir=self.dir, port=nginx_port, backend_port=backend_port)
        )
        (self.dir / "nginx.conf").write_text(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.spawn("nginx", [nginx, "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)], PROXY_CPU)
        wait_until(lambda: _tcp_open(nginx_port), 10, what="nginx")

        session = requests.Session()
        session.auth = ("admin", "admin")
        session.base = self.stack.portal_url
        token, context, validated_context = self.configure(session)
        quiet = {"TIDEGATE_LOG_LEVEL": "WARNING", **GATEWAY_CONTROL}
        uv_port, dp_port, quiet_port, raw_port, poll_port, deflate_port, nopoll_port, workers_port = (
            free_port() for _ in range(8)
        )
        self.spawn("uvicorn", gateway_command(uv_port), PROXY_CPU, quiet)
        self.spawn("uvicorn-nopoll", gateway_command(nopoll_port), PROXY_CPU, {**quiet, **BUSY_POLL_OFF})
        self.spawn("uvicorn-workers", gateway_command(workers_port, workers=WORKERS), PROXY_CPU, quiet)
        self.spawn("uvicorn-noanalytics", gateway_command(quiet_port), PROXY_CPU, {**quiet, "TIDEGATE_ANALYTICS": "0"})
        self.spawn("daphne", gateway_command(dp_port, server="daphne"), PROXY_CPU, quiet)
        self.spawn("uvicorn-busypoll", gateway_command(poll_port), PROXY_CPU, {**quiet, **BUSY_POLL_ON})
        self.spawn(
            "uvicorn-deflate", gateway_command(deflate_port), PROXY_CPU, {**quiet, "TIDEGATE_CLIENT_COMPRESSION": "1"}
        )
        self.spawn(
            "raw-relay", raw_relay_command(raw_port), PROXY_CPU, {"RAW_RELAY_BACKEND": f"ws://127.0.0.1:{backend_port}"}
        )
        auth = {"Authorization": f"Bearer {token}"}
        wait_until(lambda: _tcp_open(raw_port), 30, what="raw relay")
        for port in (uv_port, dp_port, quiet_port, poll_port, deflate_port, nopoll_port, workers_port):
            url = f"ws://127.0.0.1:{port}{context}/echo"
            wait_until(lambda url=url: flow.handshake_status(url, auth)[0] == 101, 30, what="gateway route")
        self.uv_port = uv_port
        self.workers_port = workers_port
        validated_url = f"ws://127.0.0.1:{uv_port}{validated_context}/echo"
        wait_until(lambda: flow.handshake_status(validated_url, auth)[0] == 101, 30, what="validated route")

        backend = f"ws://127.0.0.1:{backend_port}/"
        self.targets = {
            "direct": {"url": backend, "headers": {}, "pid": None},
            "nginx": {"url": f"ws://127.0.0.1:{nginx_port}/", "headers": {}, "pid": self.procs["nginx"].pid},
            "gateway-uvicorn": {
                "url": f"ws://127.0.0.1:{uv_port}{context}/echo",
                "headers": auth,
                "pid": self.procs["uvicorn"].pid,
            },
            "gateway-uvicorn-open": {
                "url": f"ws://127.0.0.1:{uv_port}{context}/open",
                "headers": {},
                "pid": self.procs["uvicorn"].pid,
            },
            # The same gateway process, on an API that validates payloads both ways: valid JSON
            # objects of the same size (bench/loadclient.py --json).
            "gateway-uvicorn-validated": {
                "url": validated_url,
                "headers": auth,
                "pid": self.procs["uvicorn"].pid,
                "extra": ("--json",),
            },
            "gateway-uvicorn-noanalytics": {
                "url": f"ws://127.0.0.1:{quiet_port}{context}/echo",
                "headers": auth,
                "pid": self.procs["uvicorn-noanalytics"].pid,
            },
            "gateway-uvicorn-busypoll": {
                "url": f"ws://127.0.0.1:{poll_port}{context}/echo",
                "headers": auth,
                "pid": self.procs["uvicorn-busypoll"].pid,
            },
            "gateway-uvicorn-nopoll": {
                "url": f"ws://127.0.0.1:{nopoll_port}{context}/echo",
                "headers": auth,
                "pid": self.procs["uvicorn-nopoll"].pid,
            },
            # Worker processes behind one port: CPU is the whole process tree's.
            "gateway-uvicorn-2workers": {
                "url": f"ws://127.0.0.1:{workers_port}{context}/echo",
                "headers": auth,
                "pid": self.procs["uvicorn-workers"].pid,
                "tree": True,
            },
            "gateway-uvicorn-deflate": {
                "url": f"ws://127.0.0.1:{deflate_port}{context}/echo",
                "headers": auth,
                "pid": self.procs["uvicorn-deflate"].pid,
                "extra": ("--deflate",),  # the load client offers permessage-deflate
            },
            "gateway-daphne": {
                "url": f"ws://127.0.0.1:{dp_port}{context}/echo",
                "headers": auth,
                "pid": self.procs["daphne"].pid,
            },
            "raw-relay": {"url": f"ws://127.0.0.1:{raw_port}/", "headers": {}, "pid": self.procs["raw-relay"].pid},
        }

    def configure(self, session) -> tuple[str, str, str]:
        """An API with every check on and limits that never trip, and a token for it; the
        same API with payload validation on both ways, the token's application subscribed.
        Returns the token and the two APIs' context paths."""
        for level, name in (("subscription", "BenchPlan"), ("application", "BenchApp"), ("advanced", "BenchApi")):
            flow.event_policy(session, level, name, 10**12)
        doc = f"""asyncapi: 2.0.0
info: {{title: Bench, version: 1.0.0}}
servers: {{production: {{url: 'ws://127.0.0.1:{self.stack.backend_port}', protocol: ws}}}}
channels:
  /echo: {{publish: {{}}, subscribe: {{}}}}
  /open: {{publish: {{}}, x-auth-type: None}}
"""
        api = flow.import_api(session, doc, context="/bench", policies=["BenchPlan"], apiThrottlingPolicy="BenchApi")
        flow.deploy_and_publish(session, api["id"])
        app = flow.application_with_token(
            session, "Bench", api["id"], plan="BenchPlan", app_policy="BenchApp", validity=24 * 3600
        )
        schema = json.dumps(VALIDATORS_SCHEMA)
        validated_doc = doc.replace("title: Bench", "title: BenchValidated").replace(
            "/echo: {publish: {}, subscribe: {}}",
            f"/echo: {{publish: {{message: {{payload: {schema}}}}}, subscribe: {{message: {{payload: {schema}}}}}}}",
        )
        validated = flow.import_api(
            session, validated_doc, context="/benchv", policies=["BenchPlan"], apiThrottlingPolicy="BenchApi"
        )
        flow.call(session, "PUT", f"{flow.PUB}/apis/{validated['id']}", json={"payloadValidation": {"mode": "both"}})
        flow.deploy_and_publish(session, validated["id"])
        flow.call(
            session,
            "POST",
            f"{flow.DEV}/subscriptions",
            201,
            json={"applicationId": app["id"], "apiId": validated["id"], "throttlingPolicy": "BenchPlan"},
        )
        return app["token"], "/bench/1.0.0", "/benchv/1.0.0"

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        self.stack.stop()

    # -- measuring --------------------------------------------------------------------------
    def measure(self, reps: int, only: list[str] | None = None) -> dict:
        workloads = SMOKE if self.smoke else FULL
        workloads = {w: v for w, v in workloads.items() if not only or w in only}
        raw: dict[str, dict[str, list[dict]]] = {w: {t: [] for t in self.targets} for w in workloads}
        for rep in range(reps):
            for wname, (kind, params) in workloads.items():
                for tname, target in self.targets.items():
                    used = workers.cpu_seconds_all if target.get("tree") else cpu_seconds
                    before = used(target["pid"]) if target["pid"] else 0.0
                    result = client(kind, target["url"], target["headers"], params, target.get("extra", ()))
                    if target["pid"]:
                        result["proxy_cpu_us"] = (used(target["pid"]) - before) * 1e6 / max(1, result["count"])
                    raw[wname][tname].append(result)
                    print(f"rep {rep + 1} {wname:6} {tname:22} {result['rate']:>10.0f}/s", flush=True)
        return raw

    def validated_counts(self) -> dict[str, int]:
        """What the Uvicorn gateway's payload validation judged (``/metrics``), by result: the
        validated target must have sent only valid messages, or it measured error frames."""
        text = requests.get(f"http://127.0.0.1:{self.uv_port}/metrics", timeout=10).text
        counts = {"valid": 0, "invalid": 0, "unvalidated": 0}
        for line in text.splitlines():
            if line.startswith("tidegate_messages_validated_total{"):
                result = line.split('result="', 1)[1].split('"', 1)[0]
                counts[result] += int(float(line.rsplit(" ", 1)[1]))
        if counts["invalid"] or counts["unvalidated"] or not counts["valid"]:
            raise RuntimeError(f"the validated target's messages were not all valid: {counts}")
        return counts

    def idle_memory(self, conns: int, targets: list[str]) -> dict:
        out = {}
        for tname in targets:
            target = self.targets[tname]
            pid = target["pid"] or self.procs["backend"].pid
            base = rss_kib(pid)
            cmd = [sys.executable, "-m", "bench.loadclient", "idle", target["url"], "--conns", str(conns)]
            for k, v in target["headers"].items():
                cmd += ["--header", f"{k}:{v}"]
            proc = subprocess.Popen(
                pinned(CLIENT_CPU, cmd), cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            holding = json.loads(proc.stdout.readline())
            held_rss = rss_kib(pid)
            proc.stdin.write("release\n")
            proc.stdin.flush()
            final = json.loads(proc.stdout.readline())
            proc.wait(60)
            out[tname] = {
                "held": holding["holding"],
                "errors": holding["errors"],
                "base_kib": base,
                "held_kib": held_rss,
                "per_conn_kib": (held_rss - base) / max(1, holding["holding"]),
                "alive_of_50": final["alive_of_50"],
                "open_seconds": final["open_seconds"],
            }
            print(
                f"idle {conns} {tname:22} {out[tname]['per_conn_kib']:.1f} KiB/conn, errors {holding['errors']}",
                flush=True,
            )
        return out


def _tcp_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def summarise(raw: dict) -> dict:
    table = {}
    for wname, targets in raw.items():
        table[wname] = {}
        for tname, runs in targets.items():
            row = {
                "rate": statistics.median(r["rate"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            }
            if "proxy_cpu_us" in runs[0]:
                row["proxy_cpu_us"] = statistics.median(r["proxy_cpu_us"] for r in runs)
                row["proxy_cpu_us_reps"] = [r["proxy_cpu_us"] for r in runs]
            row["p50_ms_reps"] = [r["p50_ms"] for r in runs]
            table[wname][tname] = row
        direct, nginx = table[wname]["direct"]["rate"], table[wname]["nginx"]["rate"]
        nginx_runs = targets["nginx"]
        for tname, row in table[wname].items():
            row["x_direct"] = row["rate"] / direct if direct else 0
            row["x_nginx"] = row["rate"] / nginx if nginx else 0
            # Each repetition against nginx's run of the same repetition (minutes apart at most):
            # the spread shows how far one run's ratio can be trusted.
            row["x_nginx_reps"] = [
                r["rate"] / n["rate"] if n["rate"] else 0 for r, n in zip(targets[tname], nginx_runs, strict=True)
            ]
    return table


def validation_lines(table: dict, micro: dict) -> list[str]:
    """The payload-validation section: the validated target's CPU beside the default's, and
    the validators compared on their own."""
    lines = ["", "## Payload validation", ""]
    rows = []
    for wname, row in table.items():
        if "gateway-uvicorn-validated" in row and "proxy_cpu_us" in row["gateway-uvicorn-validated"]:
            on, off = row["gateway-uvicorn-validated"], row["gateway-uvicorn"]
            rows.append(
                f"| {LABELS[wname]} | {off['proxy_cpu_us']:.1f} µs | {on['proxy_cpu_us']:.1f} µs | "
                f"{on['proxy_cpu_us'] - off['proxy_cpu_us']:+.1f} µs | {off['rate']:,.0f} / {on['rate']:,.0f} |"
            )
    lines += [
        "Gateway CPU per round trip, the same Uvicorn gateway process: the default API (64-byte text, "
        "no validation) and an API validating both ways (each round trip checks the client's message "
        "and the echo: two JSON decodes, two schema checks; a valid 64-byte JSON object, "
        "`bench/validators.py`'s schema):",
        "",
        "| workload | gateway-uvicorn | gateway-uvicorn-validated | added | rate (default / validated) |",
        "|---|---|---|---|---|",
        *rows,
    ]
    if "pp50" in table and "gateway-uvicorn-validated" in table["pp50"]:
        on, off = table["pp50"]["gateway-uvicorn-validated"], table["pp50"]["gateway-uvicorn"]
        added = on["proxy_cpu_us"] - off["proxy_cpu_us"]
        reps = ", ".join(
            f"{a - b:+.1f} µs" for a, b in zip(on["proxy_cpu_us_reps"], off["proxy_cpu_us_reps"], strict=True)
        )
        lines += [
            "",
            f"Target (issue 18): validation adds at most {VALIDATION_TARGET_US} µs of gateway CPU per round trip "
            f"at 50 × 64 B. Measured {added:+.1f} µs (each repetition: {reps}): "
            f"{'met' if added <= VALIDATION_TARGET_US else 'not met'}.",
        ]
    if micro:
        lines += [
            "",
            "The validators alone, in one process (best of five runs; µs per valid 64-byte message on the schema "
            f"above): fastjsonschema, as the gateway compiles it, {micro['fastjsonschema_us']:.2f} µs; jsonschema's "
            f"Draft7Validator {micro['jsonschema_us']:.2f} µs "
            f"({micro['jsonschema_us'] / micro['fastjsonschema_us']:.0f}× as long); decoding the message as JSON "
            f"{micro['json_parse_us']:.2f} µs; both, as the gateway does for each message, "
            f"{micro['gateway_message_us']:.2f} µs.",
        ]
    return lines


def _ratio_cell(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base else "–"


def target_lines(
    table: dict, idle: dict, many: dict, meta: dict, paced_rows: list[dict], tname: str = "gateway-uvicorn"
) -> list[str]:
    """The targets table for gateway ``tname``: throughput as ratios to nginx's, and what the
    gateway costs (CPU per round trip and per handshake, memory per idle connection, latency it
    adds) beside nginx's cost in the same run."""
    lines = [
        "| target | wanted | measured | × nginx | each repetition (× nginx) | met |",
        "|---|---|---|---|---|---|",
    ]

    def row(name: str, wanted: str, got: str, ratio: str, ok: bool, reps: list[str] | tuple = ()) -> None:
        lines.append(f"| {name} | {wanted} | {got} | {ratio} | {', '.join(reps) or '–'} | {'yes' if ok else 'no'} |")

    gw = {w: table[w][tname] for w in table}
    nginx = {w: table[w]["nginx"] for w in table}

    def cost(workload: str, name: str, limit: float) -> None:
        mine, theirs = gw[workload]["proxy_cpu_us"], nginx[workload]["proxy_cpu_us"]
        reps = [
            f"{a:.0f} µs ({_ratio_cell(a, b)})"
            for a, b in zip(gw[workload]["proxy_cpu_us_reps"], nginx[workload]["proxy_cpu_us_reps"], strict=True)
        ]
        row(
            name,
            f"≤ {limit:g} µs",
            f"{mine:.0f} µs (nginx {theirs:.0f})",
            _ratio_cell(mine, theirs),
            mine <= limit,
            reps,
        )

    for workload in ("pp50", "pp16k", "pipe", "hs"):
        wanted, got = TARGETS[workload], gw[workload]["x_nginx"]
        reps = [f"{x:.2f}×" for x in gw[workload]["x_nginx_reps"]]
        name = f"{LABELS[workload].split(' (')[0]} vs nginx"
        row(name, f"≥ {wanted}×", f"{gw[workload]['rate']:,.0f}/s", f"{got:.2f}×", got >= wanted, reps)
        if workload in COST_TARGETS_US:
            label, limit = COST_TARGETS_US[workload]
            cost(workload, label, limit)
    direct = table["pp1"]["direct"]
    added = gw["pp1"]["p50_ms"] - direct["p50_ms"]
    nginx_added = nginx["pp1"]["p50_ms"] - direct["p50_ms"]
    reps = [
        f"{g - d:.3f} ms ({_ratio_cell(g - d, n - d)})"
        for g, n, d in zip(gw["pp1"]["p50_ms_reps"], nginx["pp1"]["p50_ms_reps"], direct["p50_ms_reps"], strict=True)
    ]
    row(
        "added p50 at 1 connection",
        f"≤ nginx's ({nginx_added:.3f} ms)",
        f"{added:.3f} ms",
        _ratio_cell(added, nginx_added),
        added <= nginx_added,
        reps,
    )
    cpu = {r["target"]: r for r in paced_rows if r["load"] == PACED_LOAD}
    if "poll-adaptive (default)" in cpu:
        on, off = cpu["poll-adaptive (default)"], cpu["poll-off"]
        ratio = on["cpu_pct"] / off["cpu_pct"] if off["cpu_pct"] else 0
        reps = [f"{a / b:.2f}×" for a, b in zip(on["cpu_pct_reps"], off["cpu_pct_reps"], strict=True) if b]
        row(
            f"gateway CPU at {PACED_LOAD}, adaptive polling ÷ off",
            f"≤ {PACED_CPU:.2f}×",
            f"{on['cpu_pct']:.1f} % vs {off['cpu_pct']:.1f} % of a core ({ratio:.2f}×)",
            "–",
            ratio <= PACED_CPU,
            reps,
        )
    if tname in idle:
        per_conn, nginx_conn = idle[tname]["per_conn_kib"], idle["nginx"]["per_conn_kib"]
        row(
            f"RSS per idle connection at {meta['idle_conns']}",
            f"≤ {IDLE_TARGET_KIB} KiB",
            f"{per_conn:.1f} KiB (nginx {nginx_conn:.1f})",
            _ratio_cell(per_conn, nginx_conn),
            per_conn <= IDLE_TARGET_KIB,
        )
    if many and tname == "gateway-uvicorn":
        row(
            "10,000 idle connections, one process",
            "no error",
            f"{many['held']:,} held, {many['errors']} errors"
            + ("" if many["held"] >= 10_000 else " (10,000 would need more than this machine's 20,000 descriptors)"),
            "–",
            many["errors"] == 0 and many["held"] >= 10_000,
        )
    if tname == "gateway-uvicorn":
        dp = table["pp50"]["gateway-daphne"]
        reps = [f"{x:.2f}×" for x in dp["x_nginx_reps"]]
        row(
            "Daphne 50 × 64 B vs nginx",
            "≥ 0.5×",
            f"{dp['rate']:,.0f}/s",
            f"{dp['x_nginx']:.2f}×",
            dp["x_nginx"] >= 0.5,
            reps,
        )
    return lines


def paced_lines(rows: list[dict]) -> list[str]:
    from bench import paced  # bench.paced builds on this module

    return paced.lines(rows)


def workers_lines(table: dict, served: dict[int, int]) -> list[str]:
    """Two workers on one port against one process: how evenly the kernel spread the run's
    connections between them, and what a round trip costs the two together. Both workers run
    on the proxy's one core, where the supervisor switches busy polling off (gateway/workers.py),
    so the one process they are held against is the gateway with polling off."""
    one, two = table["pp50"]["gateway-uvicorn-nopoll"], table["pp50"]["gateway-uvicorn-2workers"]
    hs_one, hs_two = table["hs"]["gateway-uvicorn-nopoll"], table["hs"]["gateway-uvicorn-2workers"]
    uneven = workers.spread(served)
    cpu = two["proxy_cpu_us"] / one["proxy_cpu_us"] if one["proxy_cpu_us"] else 0
    reps = [f"{b / a:.2f}×" for a, b in zip(one["proxy_cpu_us_reps"], two["proxy_cpu_us_reps"], strict=True) if a]
    hs_reps = [
        f"{b / a:.2f}×" for a, b in zip(hs_one["proxy_cpu_us_reps"], hs_two["proxy_cpu_us_reps"], strict=True) if a
    ]
    counts = " / ".join(f"{n:,}" for n in served.values())
    return [
        "| target | wanted | measured | each repetition | met |",
        "|---|---|---|---|---|",
        f"| connections per worker, the whole run | within 10 % | {counts} ({uneven:.1%} apart) | – | "
        f"{'yes' if uneven <= WORKERS_SPREAD else 'no'} |",
        f"| gateway CPU per round trip, 50 × 64 B, two workers ÷ one process | ≤ {WORKERS_CPU:.2f}× | "
        f"{cpu:.2f}× ({two['proxy_cpu_us']:.0f} vs {one['proxy_cpu_us']:.0f} µs) | {', '.join(reps) or '–'} | "
        f"{'yes' if cpu <= WORKERS_CPU else 'no'} |",
        f"| gateway CPU per handshake, two workers ÷ one process (shown, not a target) | – | "
        f"{hs_two['proxy_cpu_us'] / hs_one['proxy_cpu_us']:.2f}× ({hs_two['proxy_cpu_us']:.0f} vs "
        f"{hs_one['proxy_cpu_us']:.0f} µs) | {', '.join(hs_reps) or '–'} | – |",
    ]


def write_report(
    out: Path,
    table: dict,
    idle: dict,
    many: dict,
    meta: dict,
    micro: dict | None = None,
    served: dict[int, int] | None = None,
    paced_rows: list[dict] | None = None,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(
        json.dumps(
            {
                "meta": meta,
                "table": table,
                "idle": idle,
                "many_idle": many,
                "validators": micro,
                "workers_served": served,
                "paced": paced_rows,
            },
            indent=1,
        )
    )
    lines = [
        "# Benchmarks",
        "",
        f"Run {meta['date']} on {meta['cpus']} CPUs; {meta['layout']}; "
        f"{meta['reps']} repetitions, interleaved, medians. Regenerate with `make bench`.",
        "",
        f"Gateways pull the snapshot every {GATEWAY_CONTROL['TIDEGATE_SYNC_INTERVAL']} s and ship analytics every "
        f"{GATEWAY_CONTROL['TIDEGATE_ANALYTICS_INTERVAL']} s (the production defaults).",
        "",
        "Cells: rate (× direct / × nginx) [proxy CPU µs per round trip, message or handshake].",
        "",
    ]
    targets = list(next(iter(table.values())))
    workloads = list(table)
    # One row a target, one column a workload: a dozen targets fit down a page, not across.
    lines.append("| target | " + " | ".join(LABELS[w] for w in workloads) + " |")
    lines.append("|---|" + "---|" * len(workloads))
    for t in targets:
        cells = []
        for w in workloads:
            c = table[w][t]
            cell = f"{c['rate']:,.0f} ({c['x_direct']:.2f} / {c['x_nginx']:.2f})"
            if "proxy_cpu_us" in c:
                cell += f" [{c['proxy_cpu_us']:.0f} µs]"
            cells.append(cell)
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Latency p50 / p99 (ms; pipelined: per burst of 100; handshake: open and close):",
        "",
        "| target | " + " | ".join(workloads) + " |",
        "|---|" + "---|" * len(workloads),
    ]
    for t in targets:
        lines.append(
            f"| {t} | "
            + " | ".join(f"{table[w][t]['p50_ms']:.3f} / {table[w][t]['p99_ms']:.3f}" for w in workloads)
            + " |"
        )
    lines += [
        "",
        f"Memory with {meta['idle_conns']} idle connections (RSS of the proxy, or of the backend for direct):",
        "",
        "| target | base | held | per connection | errors | alive (of 50) |",
        "|---|---|---|---|---|---|",
    ]
    for t, m in idle.items():
        lines.append(
            f"| {t} | {m['base_kib'] / 1024:.1f} MiB | {m['held_kib'] / 1024:.1f} MiB | "
            f"{m['per_conn_kib']:.1f} KiB | {m['errors']} | {m['alive_of_50']} |"
        )
    if many:
        lines += [
            "",
            f"Many idle connections through one Uvicorn gateway process: {many['held']:,} held, "
            f"{many['errors']} errors, {many['alive_of_50']}/50 alive when re-checked, "
            f"{many['per_conn_kib']:.1f} KiB each (the machine allows 20,000 descriptors per process; a "
            "proxied connection takes two).",
        ]
    uv = {w: table[w]["gateway-uvicorn"] for w in table}
    lines += [
        "",
        "## Targets (Uvicorn gateway, enforcement on)",
        "",
        "Measured: the median of the repetitions (met is judged on it); × nginx: the gateway's figure over",
        "nginx's in the same run (throughput: higher is better; CPU, memory and added latency: lower is",
        "better); each repetition: the same figures from each repetition alone, against nginx's run of that",
        "repetition.",
        "",
        *target_lines(table, idle, many, meta, paced_rows or []),
    ]
    if "gateway-uvicorn-busypoll" in next(iter(table.values())):
        lines += [
            "",
            f"The same targets with busy polling always on (`{BUSY_POLL_ALWAYS}`; its proxy CPU includes the polling):",
            "",
            *target_lines(table, {}, {}, meta, [], tname="gateway-uvicorn-busypoll"),
        ]
    if served:
        lines += [
            "",
            f"Two workers on one port (`rungateway --workers {WORKERS}`, both on the proxy's core, so neither "
            "busy-polls; SO_REUSEPORT spreads connections by a hash of their addresses; CPU is the supervisor's and "
            "the workers' together, against the one process with busy polling off):",
            "",
            *workers_lines(table, served),
        ]
    if paced_rows:
        lines += [
            "",
            "## Busy polling at paced loads",
            "",
            "64 B echoes at a fixed rate (bench/paced.py), through the gateway with busy polling off, "
            "adaptive (the default) and always on, beside nginx and direct: the gateway's CPU in % of a core "
            "over the paced seconds, the p50 round trip, and the polling windows it opened per frame; "
            "medians, the range over repetitions below each row.",
            "",
            *paced_lines(paced_rows),
        ]
    on, off = uv["pp50"].get("proxy_cpu_us", 0), table["pp50"]["gateway-uvicorn-open"].get("proxy_cpu_us", 0)
    quiet = table["pp50"]["gateway-uvicorn-noanalytics"].get("proxy_cpu_us", 0)
    deflate = {w: table[w]["gateway-uvicorn-deflate"].get("proxy_cpu_us", 0) for w in table}
    lines += [
        "",
        f"Enforcement per round trip (50 × 64 B, token + subscription + three rate limits vs an open topic): "
        f"{on:.0f} µs vs {off:.0f} µs, {on - off:+.0f} µs.",
        "",
        f"Analytics per round trip (50 × 64 B, shipping on vs TIDEGATE_ANALYTICS=0; counting per frame is always on, it "
        f"also feeds /metrics and the live-connections view): {on:.0f} µs vs {quiet:.0f} µs, {on - quiet:+.0f} µs.",
        "",
        "Client compression (TIDEGATE_CLIENT_COMPRESSION=1, the load client offering permessage-deflate; the "
        "backend leg stays uncompressed), proxy CPU per round trip or message, on vs the default: "
        + "; ".join(
            f"{w} {deflate[w]:.0f} vs {uv[w].get('proxy_cpu_us', 0):.0f} µs" for w in ("pp1", "pp50", "pp16k", "pipe")
        )
        + f"; per handshake {deflate['hs']:.0f} vs {uv['hs'].get('proxy_cpu_us', 0):.0f} µs. The messages are "
        "repeated characters: they compress to almost nothing, so this is deflate's per-message cost, not a "
        "typical payload's.",
        "",
        "The gateway against the bare relay it is built on (bench/raw_relay.py: the same Uvicorn and aiohttp, "
        "no gateway logic), same run, throughput gateway ÷ relay [proxy CPU µs, gateway vs relay]: "
        + "; ".join(
            f"{w} {uv[w]['rate'] / table[w]['raw-relay']['rate']:.2f} "
            f"[{uv[w].get('proxy_cpu_us', 0):.0f} vs {table[w]['raw-relay'].get('proxy_cpu_us', 0):.0f}]"
            for w in table
        )
        + ".",
        *validation_lines(table, micro or {}),
        "",
        "![chart](benchmarks.png)",
        "",
        (ROOT / "bench" / "analysis.md").read_text(),
    ]
    (out / "benchmarks.md").write_text("\n".join(lines))
    chart(out / "benchmarks.png", table)


def chart(path: Path, table: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(table)
    targets = [t for t in next(iter(table.values())) if t != "direct"]
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / len(targets)
    for i, t in enumerate(targets):
        medians = [table[w][t]["x_nginx"] for w in workloads]
        # Whiskers: the lowest and highest repetition, so a reader sees how much one run moves.
        reps = [table[w][t].get("x_nginx_reps") or [table[w][t]["x_nginx"]] for w in workloads]
        spread = [
            [m - min(r) for m, r in zip(medians, reps, strict=True)],
            [max(r) - m for m, r in zip(medians, reps, strict=True)],
        ]
        ax.bar([x + i * width for x in range(len(workloads))], medians, width, label=t, yerr=spread, capsize=2)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xticks([x + width * (len(targets) - 1) / 2 for x in range(len(workloads))], workloads)
    ax.set_ylabel("throughput × nginx (same run)")
    ax.set_title("Tidegate gateway vs nginx (medians; whiskers: lowest and highest repetition)")
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="seconds-long run that checks the harness works")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--workloads", default="", help="comma-separated, e.g. pp1,pp50: a short run, no report")
    args = parser.parse_args()
    reps = args.reps or (1 if args.smoke else 3)
    only = [w for w in args.workloads.split(",") if w]
    bench = Bench(args.out, args.smoke)
    micro = validators.measure(2000 if args.smoke else 20000)
    if only:
        try:
            bench.start()
            table = summarise(bench.measure(reps, only))
            print(f"validated messages: {bench.validated_counts()}")
        finally:
            bench.stop()
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "benchmarks.json").write_text(json.dumps({"table": table, "validators": micro}, indent=1))
        print("\n".join(validation_lines(table, micro)))
        return
    try:
        bench.start()
        raw = bench.measure(reps)
        bench.validated_counts()
        served = workers.worker_connections(bench.procs["uvicorn-workers"].pid, bench.workers_port)
        from bench import paced  # bench.paced builds on this module

        polling = {name: bench.targets[target] for name, target in PACED_GATEWAYS.items()}
        paced_rows = paced.measure(bench, reps, PACED_SMOKE_SECONDS if args.smoke else paced.SECONDS, polling)
        idle_conns = 50 if args.smoke else IDLE_CONNS
        idle = bench.idle_memory(idle_conns, ["direct", "nginx", "gateway-uvicorn", "gateway-daphne", "raw-relay"])
        many = {} if args.smoke else bench.idle_memory(MANY_IDLE, ["gateway-uvicorn"])["gateway-uvicorn"]
    finally:
        bench.stop()
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": CPUS,
        "reps": reps,
        "layout": "client and backend on CPU 0, proxy on CPU 1" if CLIENT_CPU else "unpinned",
        "idle_conns": idle_conns,
        "smoke": args.smoke,
    }
    write_report(args.out, summarise(raw), idle, many, meta, micro, served, paced_rows)
    print(f"wrote {args.out / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
