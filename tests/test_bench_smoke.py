"""The benchmark harness, once, in its seconds-long smoke mode: it must keep working.
Nothing here is timed; the figures are only checked to exist."""

import json
import subprocess
import sys

import pytest

from testsupport.stack import ROOT

pytestmark = pytest.mark.e2e


def test_bench_harness_runs_and_writes_its_report(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads((tmp_path / "benchmarks.json").read_text())
    targets = {
        "direct",
        "nginx",
        "gateway-uvicorn",
        "gateway-uvicorn-open",
        "gateway-uvicorn-validated",
        "gateway-uvicorn-noanalytics",
        "gateway-uvicorn-busypoll",
        "gateway-uvicorn-nopoll",
        "gateway-uvicorn-2workers",
        "gateway-uvicorn-deflate",
        "gateway-daphne",
        "raw-relay",
    }
    for workload in ("pp1", "pp50", "pp16k", "pipe", "hs"):
        assert set(report["table"][workload]) == targets
        assert all(row["rate"] > 0 for row in report["table"][workload].values())
    assert report["idle"]["gateway-uvicorn"]["errors"] == 0
    assert (tmp_path / "benchmarks.png").stat().st_size > 0
    text = (tmp_path / "benchmarks.md").read_text()
    assert "Targets" in text and "busy polling always on" in text and "bare relay" in text
    # The cost targets beside nginx's (issue 21): CPU per round trip and handshake, memory.
    assert "gateway CPU per round trip" in text and "gateway CPU per handshake" in text and "× nginx" in text
    assert "Client compression" in text
    # Both workers of the two-worker target took connections, and the report judges the spread.
    assert len(report["workers_served"]) == 2 and all(n > 0 for n in report["workers_served"].values())
    assert "Two workers on one port" in text and "connections per worker" in text
    # The paced table over the busy-polling settings, and the CPU target judged from it.
    assert "## Busy polling at paced loads" in text and "adaptive polling ÷ off" in text
    assert {row["target"] for row in report["paced"]} >= {"poll-off", "poll-adaptive (default)", "poll-on"}
    assert "## Payload validation" in text and "Target (issue 18)" in text
    assert report["validators"]["fastjsonschema_us"] > 0 and report["validators"]["jsonschema_us"] > 0


def test_paced_bench_measures_off_adaptive_and_on_beside_nginx_and_direct(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.paced", "--smoke", "--out", str(tmp_path / "paced.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads((tmp_path / "paced.json").read_text())
    rows = {(r["load"], r["target"]): r for r in report["paced"]}
    loads = {"100/s, 1 conn", "1,000/s, 10 conns", "5,000/s, 10 conns"}
    targets = {"direct", "nginx", "poll-off", "poll-adaptive 200:250", "poll-on 200"}
    assert set(rows) == {(load, t) for load in loads for t in targets}
    for (_load, target), row in rows.items():
        assert row["p50_ms"] > 0
        assert ("cpu_pct" in row) == target.startswith("poll-")  # the gateways' CPU; nginx, direct: p50 only
        # Windows opened per frame, from the gateway's /metrics: none without a poller.
        assert ("windows_per_frame" in row) == (target in {"poll-adaptive 200:250", "poll-on 200"})
    assert {r["target"] for r in report["pp1"]} == targets
    assert "| 1,000/s, 10 conns |" in out.stdout and "added p50" in out.stdout


def test_bench_imports_nothing_from_the_test_suite():
    """bench/ shares the process starters through testsupport/, not tests/: the harness runs
    where the test suite is not (a deployment checkout, a benchmark box)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bench.run; print(sorted(m for m in sys.modules if m.split('.')[0] == 'tests'))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"
