"""gateway_sync is a low layer: the domain apps (publisher's deploy ?wait=true, analytics'
gateway token) call it, so it reads none of them; the snapshot built from every app is the
site's (tidegate/snapshot/). `lint-imports` checks the chains; this checks each statement,
function-local ones included."""

import ast
from pathlib import Path

GATEWAY_SYNC = Path(__file__).resolve().parents[1]
PROJECT = ("portal", "keymanager", "publisher", "devportal", "analytics", "gateway", "tidegate", "demo", "testsupport")
BELOW = ("portal", "gateway_contract")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_gateway_sync_imports_of_the_project_only_portal_and_the_contract():
    modules = [p for p in GATEWAY_SYNC.rglob("*.py") if not {"tests", "migrations"} & set(p.parts)]
    assert GATEWAY_SYNC / "services.py" in modules
    upward = {
        f"{p.relative_to(GATEWAY_SYNC)}: {name}"
        for p in modules
        for name in _imports(p)
        if name.split(".")[0] in PROJECT and name.split(".")[0] not in BELOW
    }
    assert upward == set()
