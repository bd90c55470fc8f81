"""The gateway's per-frame modules compiled to C with mypyc, and the guard that uses them
only while they match their source.

The modules in ``COMPILED`` run for every frame (the two WebSocket protocols, the relay's
per-message steps, the rate limiter, the live-connection record, the busy poller). ``make
compile`` (``python -m gateway.build``) builds each into a C extension beside its source from
the same typed Python: mypyc turns the classes into C structs and the calls between them
into C calls, 38 % fewer instructions per relayed message (bench/analysis.md). The source
stays what is read, reviewed and type-checked; without a C compiler the gateway runs it as
it is, and says so (``status``, logged at start and on ``/metrics``).

A compiled module that no longer matches its source would run old code while the file says
otherwise. The build therefore records each source's SHA-256 in ``MANIFEST``, and
``use_current_code`` (run by ``gateway/__init__.py`` before any of them is imported) loads
the sources instead of the extensions when any of them changed, or was compiled without
a record: all of them, since compiled modules of one build call each other directly.

What compiling asks of these modules' code: the annotations are checked when the code runs
(a value of the wrong type raises TypeError where the interpreter would have let it pass),
and a class may not be given attributes outside those it declares, nor be subclassed
outside these modules.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
# Compiled together (one build, one shared library): the per-frame path's own code.
COMPILED = ("relay", "ratelimit", "registry", "busypoll", "wsprotocol", "upstream")
MANIFEST = PACKAGE_DIR / "compiled.json"  # the sources compiled, by SHA-256 (gateway/build.py)


def source_hashes(package_dir: Path = PACKAGE_DIR, modules: Sequence[str] = COMPILED) -> dict[str, str]:
    return {name: hashlib.sha256((package_dir / f"{name}.py").read_bytes()).hexdigest() for name in modules}


def extension_of(package_dir: Path, name: str) -> Path | None:
    """The compiled module this interpreter would import for ``name``, if there is one."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = package_dir / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def judge(package_dir: Path = PACKAGE_DIR, modules: Sequence[str] = COMPILED) -> tuple[str, str]:
    """("compiled" | "source" | "stale", why) for the modules in ``package_dir``."""
    built = [name for name in modules if extension_of(package_dir, name) is not None]
    if not built:
        return "source", "not compiled (make compile)"
    manifest = package_dir / MANIFEST.name
    try:
        recorded = json.loads(manifest.read_text())["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return "stale", f"compiled modules without a readable {manifest.name}"
    current = source_hashes(package_dir, modules)
    changed = [
        f"{name}.py" for name in modules if not isinstance(recorded, dict) or recorded.get(name) != current[name]
    ]
    if changed:
        return "stale", f"changed since compiled: {', '.join(changed)} (make compile)"
    missing = [name for name in modules if name not in built]
    if missing:
        return "stale", f"not all compiled: {', '.join(missing)} missing (make compile)"
    return "compiled", f"compiled with mypyc: {', '.join(modules)}"


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Imports the named modules from their ``.py`` files even where an extension is beside them."""

    def __init__(self, package: str, package_dir: Path, modules: Sequence[str]) -> None:
        self.names = {f"{package}.{name}": package_dir / f"{name}.py" for name in modules}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        source = self.names.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


# What this process runs, set once by use_current_code: (kind, why).
STATUS: tuple[str, str] = ("source", "not judged")


def use_current_code(package: str = "gateway", package_dir: Path = PACKAGE_DIR) -> tuple[str, str]:
    """Judge the compiled modules and, when stale, make the sources be imported instead."""
    global STATUS
    kind, why = judge(package_dir)
    if kind == "stale":
        sys.meta_path.insert(0, _SourceFirst(package, package_dir, COMPILED))
    STATUS = (kind, why)
    return STATUS


def compiled() -> bool:
    """Whether this process runs the compiled modules (their extensions were imported)."""
    return all(
        (module := sys.modules.get(f"gateway.{name}")) is not None
        and not str(getattr(module, "__file__", "")).endswith(".py")
        for name in COMPILED
    )
