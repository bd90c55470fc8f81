"""The gateway the suite runs is the compiled one (make test builds it, gateway/native.py),
as production's is after make setup-prod; and a compiled module whose source was edited is
never what runs."""

import shutil
import subprocess
import sys

import pytest

from gateway import native
from testsupport.stack import ROOT, metric

pytestmark = pytest.mark.e2e


def test_the_gateway_runs_its_per_frame_modules_compiled_and_says_so(stack):
    assert native.judge()[0] == "compiled", f"{native.judge()[1]}: the suite is meant to run the compiled gateway"
    assert metric(stack.gateway_http, "tidegate_gateway_compiled") == 1
    log = stack.processes["gateway"].output()
    assert "per-frame modules compiled with mypyc: relay, ratelimit, registry, busypoll, wsprotocol, upstream" in log


def test_make_compile_leaves_a_whole_current_build_alone():
    made = {path: path.stat().st_mtime_ns for path in native.built_files()}
    out = subprocess.run(
        [sys.executable, "-m", "gateway.build", "--if-needed"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "nothing to do" in out.stdout
    assert {path: path.stat().st_mtime_ns for path in native.built_files()} == made


def which(cwd) -> str:
    code = "import gateway.relay as r, gateway.native as n; print(n.STATUS[0], r.__file__.rsplit('/', 1)[1])"
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def test_an_edited_source_runs_instead_of_its_compiled_module(tmp_path):
    # A copy of the project's gateway package as built, and the build's shared library.
    shutil.copytree(ROOT / "gateway", tmp_path / "gateway", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    for lib in ROOT.glob("tidegate_gateway__mypyc.*"):
        shutil.copy(lib, tmp_path)
    shutil.copytree(ROOT / "gateway_contract", tmp_path / "gateway_contract")
    relay_extension = native.extension_of(ROOT / "gateway", "relay")
    assert relay_extension is not None
    assert which(tmp_path) == f"compiled {relay_extension.name}"
    with open(tmp_path / "gateway" / "ratelimit.py", "a") as source:
        source.write("# edited after the build\n")
    assert which(tmp_path) == "stale relay.py"  # relay.py too: compiled modules call each other directly
