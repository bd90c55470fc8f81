"""The two-worker gateway target (``rungateway --workers 2``): which processes are its workers,
how many connections each served, and their CPU summed.

``worker_connections(supervisor_pid, port)`` reads the supervisor's children from /proc and
the merged /metrics of the gateway (``tidegate_worker_handshakes_total{worker,status="101"}``,
one series per worker, summed over the workers by whichever one answers the scrape).
"""

from __future__ import annotations

import re
from pathlib import Path

import requests

from testsupport.stack import cpu_seconds

_WORKER_HANDSHAKES = re.compile(r"^tidegate_worker_handshakes_total\{([^}]*)\} (\S+)$", re.M)


def worker_pids(supervisor_pid: int) -> list[int]:
    """The supervisor's worker processes (its children), in pid order."""
    children = Path(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children")
    if children.exists():
        return sorted(int(p) for p in children.read_text().split())
    found = []  # kernels without CONFIG_PROC_CHILDREN: every process's parent
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == supervisor_pid:
                found.append(int(entry.name))
    return sorted(found)


def worker_connections(supervisor_pid: int, port: int, host: str = "127.0.0.1") -> dict[int, int]:
    """Each worker's pid and how many WebSocket connections it accepted (handshakes answered
    101) since it started; a worker that has accepted none yet is listed with 0."""
    text = requests.get(f"http://{host}:{port}/metrics", timeout=10).text
    served = dict.fromkeys(worker_pids(supervisor_pid), 0)
    for labels, value in _WORKER_HANDSHAKES.findall(text):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if fields.get("status") == "101":
            pid = int(fields["worker"])
            served[pid] = served.get(pid, 0) + int(float(value))
    return served


def spread(served: dict[int, int]) -> float:
    """How unevenly connections went to the workers: (most - fewest) / mean (0.10 = 10 %)."""
    counts = list(served.values())
    mean = sum(counts) / len(counts) if counts else 0
    return (max(counts) - min(counts)) / mean if mean else 0.0


def cpu_seconds_all(supervisor_pid: int) -> float:
    """CPU time used so far by the supervisor and its workers together (the per-round-trip
    CPU of the target is the change in this over a workload, as for one process)."""
    total = cpu_seconds(supervisor_pid)
    for pid in worker_pids(supervisor_pid):
        try:
            total += cpu_seconds(pid)
        except OSError:  # a worker that just ended
            pass
    return total
