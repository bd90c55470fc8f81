"""``make conformance``: the Autobahn test suite's fuzzing client against the demo echo
backend directly and through the gateway (Uvicorn, a configuration from disk, no portal),
and its summary written to docs/conformance.md. The compression cases (12.x, 13.x) also run
through a second gateway with ``TIDEGATE_CLIENT_COMPRESSION=1`` (agent ``gateway-deflate``).

The suite's ``wstest`` runs on Python 2.7 only; the Makefile installs it into its own
directory (var/autobahn27) and passes that interpreter here. Run by hand:

    .venv/bin/python -m tests.conformance --python27 /path/to/python2.7 --autobahn var/autobahn27

``--agents gateway-deflate`` runs only the compression cases through the compressing gateway
and rewrites only their row and section of docs/conformance.md (minutes, not the hour the
whole suite takes).

``--cases`` picks the cases (the suite's patterns, comma-separated; ``make conformance
CASES=...``), e.g. everything but the slow large-message 9.x cases:

    .venv/bin/python -m tests.conformance ... --cases '1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*'

The document then names the cases it ran. ``--reports DIR`` keeps the suite's own reports
(index.json and one JSON and HTML page per case and agent) in DIR.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from gateway_contract.snapshot import TopicConfig
from testsupport.snapshots import api_config
from testsupport.stack import ROOT, Stack, free_port

DOC = ROOT / "docs" / "conformance.md"
TOPIC = "/ws"
BEHAVIOURS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
AGENTS = ("direct", "gateway", "gateway-deflate")
# The gateway with permessage-deflate on the client leg runs the compression cases only.
DEFLATE_ENV = {"TIDEGATE_CLIENT_COMPRESSION": "1"}
COMPRESSION_CASES = ["12.*", "13.*"]
NOT_COMPRESSION = [f"{group}.*" for group in range(1, 12)]
DEFLATE_ROW = "| through the gateway, compression on (12.x, 13.x only) |"
DEFLATE_SECTION = "## Compression through the gateway"

# Cases the gateway is known to fail, and why that is accepted. Anything else that fails
# through the gateway but not directly makes the run exit non-zero.
ACCEPTED = {
    "9.1.4": "a 4 MiB text message; over `TIDEGATE_MAX_FRAME_SIZE` (1 MiB), closed with 1009",
    "9.1.5": "an 8 MiB text message; over `TIDEGATE_MAX_FRAME_SIZE`, closed with 1009",
    "9.1.6": "a 16 MiB text message; over `TIDEGATE_MAX_FRAME_SIZE`, closed with 1009",
    "9.2.4": "a 4 MiB binary message; over `TIDEGATE_MAX_FRAME_SIZE`, closed with 1009",
    "9.2.5": "an 8 MiB binary message; over `TIDEGATE_MAX_FRAME_SIZE`, closed with 1009",
    "9.2.6": "a 16 MiB binary message; over `TIDEGATE_MAX_FRAME_SIZE`, closed with 1009",
    **{
        f"9.{group}.{n}": f"a 4 MiB {kind} message in fragments; over `TIDEGATE_MAX_FRAME_SIZE`, closed with 1009"
        for group, kind in ((3, "text"), (4, "binary"))
        for n in range(1, 10)
    },
    "7.1.5": (
        "a fragment, a close, then another fragment: the echo backend (the websockets library) "
        "answers 1002 where the suite expects 1000; the gateway's own protocol "
        "(gateway/wsprotocol.py) answers the close with 1000 and passes"
    ),
}


def wstest(python27: str, autobahn: Path, spec: Path, cwd: Path) -> None:
    # --target does not process the zope namespace .pth file: site.addsitedir does.
    boot = (
        "import site, sys; site.addsitedir(sys.argv.pop(1)); sys.argv[0] = 'wstest'; "
        "from autobahntestsuite.wstest import run; run()"
    )
    subprocess.run(
        [python27, "-c", boot, str(autobahn.resolve()), "-m", "fuzzingclient", "-s", str(spec)],
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start(stack: Stack) -> int:
    """The echo backend and a gateway with one unsecured API, /echo/1.0.0/ws, in front of it,
    and a second gateway serving it with client compression on; that one's port."""
    api = api_config(
        id="api-echo",
        name="Echo",
        context="/echo",
        production_endpoint=stack.backend_url,
        topics=(TopicConfig(name=TOPIC, secured=False),),
    )
    stack.start_from_snapshot(api)
    port = free_port()
    stack.spawn_gateway("gateway-deflate", port, env=DEFLATE_ENV)
    return port


def results(index: dict, reports: Path) -> dict:
    """Each agent's cases with the suite's own words for each outcome."""
    for cases in index.values():
        for result in cases.values():
            report = json.loads((reports / result["reportfile"]).read_text())
            result["says"] = " ".join(str(report.get("result", "")).split())
    return index


def _row(name: str, results: dict) -> str:
    counts = Counter(r["behavior"] for r in results.values())
    return f"{name} {len(results)} | " + " | ".join(str(counts[b]) for b in BEHAVIOURS) + " |"


def _case_key(case: str) -> list[int]:
    return [int(p) for p in case.split(".")]


def deflate_section(deflate: dict) -> list[str]:
    """The compression cases through the compressing gateway: how many passed, and any
    that did not, in the suite's words."""
    lines = [
        DEFLATE_SECTION,
        "",
        "A second gateway with `TIDEGATE_CLIENT_COMPRESSION=1` (default window of 12 bits, memLevel 5,",
        "1 MiB limit on the inflated message) runs the compression cases 12.x and 13.x only: it",
        "negotiates permessage-deflate with the suite and relays to the echo backend uncompressed.",
        "",
    ]
    failed = sorted((c for c, r in deflate.items() if r["behavior"] == "FAILED"), key=_case_key)
    if not failed:
        lines.append(f"All {len(deflate)} cases pass.")
    else:
        lines += ["| case | the suite's words |", "|---|---|"]
        lines += [f"| {c} | {deflate[c]['says'].replace('|', '/')} |" for c in failed]
    return [*lines, ""]


def summarise(index: dict, cases: str = "*") -> str:
    direct, gateway = index["direct"], index["gateway"]
    deflate = index.get("gateway-deflate", {})
    which = "every case" if cases == "*" else f"the cases `{cases}` only"
    lines = [
        "# WebSocket conformance",
        "",
        "The [Autobahn test suite](https://github.com/crossbario/autobahn-testsuite)'s fuzzing client",
        f"(`wstest -m fuzzingclient`, autobahntestsuite 0.8.2), {which}, against the demo echo",
        "backend directly and through the gateway under Uvicorn (`rungateway`, default settings:",
        "1 MiB message limit, no compression: the client leg is gateway/wsprotocol.py, on aiohttp's",
        "compiled frame reader), and the compression cases through a gateway with client",
        "compression on (the websockets-sansio class). Written by `make conformance`; pick cases",
        "with `make conformance CASES='1.*,2.*,...'` (the suite's patterns, comma-separated).",
        "",
        "| agent | cases | " + " | ".join(BEHAVIOURS) + " |",
        "|---|---|" + "---|" * len(BEHAVIOURS),
        _row("| direct (echo backend) |", direct),
        _row("| through the gateway |", gateway),
        *([_row(DEFLATE_ROW, deflate)] if deflate else []),
        "",
        "UNIMPLEMENTED is the compression cases (12.x, 13.x) in the first two rows: the echo",
        "backend and the gateway with its default settings offer no permessage-deflate. The third",
        "row runs only those cases, with it on (below). NON-STRICT and INFORMATIONAL are passes",
        "(the suite notes a behaviour it allows).",
        "",
        "## Failed cases",
        "",
        "| case | direct | gateway | why | the suite's words (gateway) |",
        "|---|---|---|---|---|",
    ]
    failed = sorted(
        (c for c in gateway if "FAILED" in (gateway[c]["behavior"], direct.get(c, {}).get("behavior"))),
        key=_case_key,
    )
    for case in failed:
        why = ACCEPTED.get(case, "**not accepted: to be fixed**")
        says = gateway[case]["says"].replace("|", "/")
        lines.append(f"| {case} | {direct[case]['behavior']} | {gateway[case]['behavior']} | {why} | {says} |")
    if not failed:
        lines.append("| none | | | | |")
    lines += [
        "",
        "Cases 9.3.1-9.3.3 and 9.4.1-9.4.3 (4 MiB in fragments of 64 B to 1 KiB) fail against the",
        "echo backend directly too: it closes them with 1009 (too many fragments, the websockets",
        "library's limit). Through the gateway, every 9.x message over 1 MiB is closed with 1009",
        "as soon as its declared length (or the fragments so far) pass the limit; the suite words",
        "any missing echo as a timeout.",
        "",
        "A client's invalid UTF-8 (cases 6.x) is closed with 1007 and a reason naming the bad",
        "byte's position, as the websockets library does on the backend's side. A text message is",
        "judged when it is complete, not at the bytes that break it: cases 6.4.1-6.4.4 (such a",
        "message in fragments, or one frame sent in parts, with waits between) are NON-STRICT",
        "(allowed), directly and through the gateway.",
        "",
        "A close code RFC 6455 (7.4) does not allow on the wire (0-999, 1004-1006, 1015, 1016-2999,",
        "5000 and up) is answered with 1002 (cases 7.9.x; 7.13.x, codes from 5000 on, are",
        "INFORMATIONAL to the suite).",
        "",
        *(
            deflate_section(deflate)
            if deflate
            else [DEFLATE_SECTION, "", "Not run: no 12.x or 13.x case in this selection.", ""]
        ),
        "Run it again with `make conformance` (needs Python 2.7: see the README).",
        "",
    ]
    return "\n".join(lines)


def update_deflate(text: str, deflate: dict) -> str:
    """docs/conformance.md with only the compressing gateway's row and section rewritten."""
    row = _row(DEFLATE_ROW, deflate)
    if DEFLATE_ROW in text:
        text = re.sub(rf"^{re.escape(DEFLATE_ROW)}.*$", lambda _: row, text, flags=re.M)
    else:
        text = re.sub(r"^(\| through the gateway \|.*)$", lambda m: f"{m.group(1)}\n{row}", text, count=1, flags=re.M)
    section = "\n".join(deflate_section(deflate)) + "\n"
    tail = "Run it again with `make conformance`"
    if DEFLATE_SECTION in text:
        return text[: text.index(DEFLATE_SECTION)] + section + text[text.index(tail) :]
    return text.replace(tail, f"{section}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python27", required=True)
    parser.add_argument("--autobahn", required=True, type=Path)
    parser.add_argument("--cases", default="*", help="the suite's case patterns, comma-separated: '1.*,7.9.*'")
    parser.add_argument("--reports", type=Path, help="keep the suite's reports in this directory")
    parser.add_argument("--agents", default=",".join(AGENTS), help="gateway-deflate alone updates its part of the doc")
    args = parser.parse_args()
    agents = args.agents.split(",")
    only_deflate = agents == ["gateway-deflate"]
    if not only_deflate and set(agents) != set(AGENTS):
        parser.error(f"--agents: all of {', '.join(AGENTS)} (the default), or gateway-deflate alone")
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        work = Path(tmp)
        stack = Stack(work / "stack")
        try:
            deflate_port = start(stack)
            urls = {
                "direct": stack.backend_url,
                "gateway": f"{stack.gateway_ws}/echo/1.0.0{TOPIC}",
                "gateway-deflate": f"ws://127.0.0.1:{deflate_port}/echo/1.0.0{TOPIC}",
            }
            spec = work / "spec.json"
            spec.write_text(
                json.dumps(
                    {
                        "outdir": str(work / "reports"),
                        "servers": [{"agent": agent, "url": urls[agent]} for agent in agents],
                        "cases": COMPRESSION_CASES if only_deflate else args.cases.split(","),
                        "exclude-cases": [],
                        "exclude-agent-cases": {"gateway-deflate": NOT_COMPRESSION},
                    }
                )
            )
            wstest(args.python27, args.autobahn, spec, work)
            index = results(json.loads((work / "reports" / "index.json").read_text()), work / "reports")
            if args.reports:
                shutil.copytree(work / "reports", args.reports, dirs_exist_ok=True)
            log = "".join(stack.processes[name].output() for name in ("gateway", "gateway-deflate"))
        finally:
            stack.stop()
    if only_deflate:
        DOC.write_text(update_deflate(DOC.read_text(), index["gateway-deflate"]))
    else:
        DOC.write_text(summarise(index, args.cases))
    print(f"wrote {DOC.relative_to(ROOT)}")
    if "Traceback" in log:
        print("a gateway logged a traceback:\n" + log, file=sys.stderr)
        return 1
    unexpected = [c for c, r in index.get("gateway-deflate", {}).items() if r["behavior"] == "FAILED"]
    if not only_deflate:
        gateway = index["gateway"]
        unexpected += [
            c
            for c, r in gateway.items()
            if r["behavior"] == "FAILED" and c not in ACCEPTED and index["direct"][c]["behavior"] != "FAILED"
        ]
    if unexpected:
        print("failed through the gateway only: " + ", ".join(sorted(unexpected, key=_case_key)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
