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
otherwise. The build therefore records in ``MANIFEST`` the SHA-256 of each compiled source,
of the project's modules they are built against (their types are compiled in), and of the
files it made (the modules' extensions and the shared library they all load). ``use_current_code``
(run by ``gateway/__init__.py`` before any of them is imported) loads the sources instead of
the extensions when any of those differ, or the shared library cannot be imported: all of
them, since compiled modules of one build call each other directly.

What compiling asks of these modules' code: values annotated with a built-in type (int,
float, str, bytes, bool, list, dict, tuple, set) or a compiled class are checked when the
code runs (a bytearray where bytes is annotated raises TypeError where the interpreter would
have let it pass; an int passes for a float); a class may not be given attributes outside
those it declares, nor subclass a class that is not compiled, nor be subclassed outside
these modules.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
# Compiled together (one build, one shared library): the per-frame path's own code.
COMPILED = ("relay", "ratelimit", "registry", "busypoll", "wsprotocol", "upstream")
GROUP = "tidegate_gateway"  # the shared library: tidegate_gateway__mypyc.<abi>.so, at the root
MANIFEST = PACKAGE_DIR / "compiled.json"  # what a build was made from and made (gateway/build.py)
# Neither compiled nor read by the compiled modules: edits to these leave a build valid.
_NOT_DEPENDED_ON = {"__init__.py", "native.py", "build.py"}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_hashes(package_dir: Path = PACKAGE_DIR, modules: Sequence[str] = COMPILED) -> dict[str, str]:
    return {name: _sha256(package_dir / f"{name}.py") for name in modules}


def dependency_hashes(root: Path = ROOT, modules: Sequence[str] = COMPILED) -> dict[str, str]:
    """The project's other modules the compiled ones may be built against, by path from ``root``:
    the gateway package's own (not its tests or commands) and the gateway contract."""
    compiled = {f"{name}.py" for name in modules}
    found: dict[str, str] = {}
    for folder in ("gateway", "gateway_contract"):
        for path in sorted((root / folder).glob("*.py")):
            if folder == "gateway" and (path.name in compiled or path.name in _NOT_DEPENDED_ON):
                continue
            found[path.relative_to(root).as_posix()] = _sha256(path)
    return found


def extension_of(package_dir: Path, name: str) -> Path | None:
    """The compiled module this interpreter would import for ``name``, if there is one."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = package_dir / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def built_files(package_dir: Path = PACKAGE_DIR, modules: Sequence[str] = COMPILED) -> list[Path]:
    """The files a build made that this interpreter would load: each module's extension and
    the shared library (missing ones left out)."""
    found = [extension_of(package_dir, name) for name in modules]
    found.append(extension_of(package_dir.parent, f"{GROUP}__mypyc"))
    return [path for path in found if path is not None]


def built_hashes(package_dir: Path = PACKAGE_DIR, modules: Sequence[str] = COMPILED) -> dict[str, str]:
    """``built_files`` by name, with their SHA-256: what a build records, and what it is checked against."""
    return {path.name: _sha256(path) for path in built_files(package_dir, modules)}


def _differ(recorded: object, current: dict[str, str]) -> list[str]:
    if not isinstance(recorded, dict):
        return sorted(current) or ["(none recorded)"]
    return sorted(name for name in recorded.keys() | current.keys() if recorded.get(name) != current.get(name))


def judge(
    package_dir: Path = PACKAGE_DIR,
    modules: Sequence[str] = COMPILED,
    *,
    dependencies: dict[str, str] | None = None,
    search_path: Iterable[str] | None = None,
) -> tuple[str, str]:
    """("compiled" | "source" | "stale", why) for the modules in ``package_dir``: compiled
    only when every extension and the shared library are there, importable from
    ``search_path`` (``sys.path``), and the very files the recorded build made from the
    sources and dependencies as they are now."""
    missing = [name for name in modules if extension_of(package_dir, name) is None]
    if len(missing) == len(modules):
        return "source", "not compiled (make compile)"
    manifest = package_dir / MANIFEST.name
    try:
        record = json.loads(manifest.read_text())
        recorded_sources, recorded_deps, recorded_built = record["sources"], record["dependencies"], record["built"]
    except (OSError, ValueError, KeyError, TypeError):
        return "stale", f"compiled modules without a readable {manifest.name} (make compile)"
    changed = [f"{name}.py" for name in _differ(recorded_sources, source_hashes(package_dir, modules))]
    changed += _differ(
        recorded_deps, dependency_hashes(package_dir.parent, modules) if dependencies is None else dependencies
    )
    if changed:
        return "stale", f"changed since compiled: {', '.join(changed)} (make compile)"
    if missing:
        return "stale", f"not all compiled: {', '.join(missing)} missing (make compile)"
    library = extension_of(package_dir.parent, f"{GROUP}__mypyc")
    if library is None:
        return "stale", f"the shared library {GROUP}__mypyc is missing (make compile)"
    differing = _differ(recorded_built, built_hashes(package_dir, modules))
    if differing:
        return "stale", f"not the files the recorded build made: {', '.join(differing)} (make compile)"
    found = importlib.machinery.PathFinder.find_spec(library.name.split(".")[0], list(search_path or sys.path))
    if found is None or found.origin is None or Path(found.origin).resolve() != library.resolve():
        return "stale", f"{library.name} is not the one imported from sys.path (put {library.parent} on it)"
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
    """Whether this process runs the compiled modules: the relay's was imported from its
    extension (one build is used whole or not at all)."""
    relay = sys.modules.get("gateway.relay")
    return relay is not None and not str(getattr(relay, "__file__", "")).endswith(".py")


def say_which_code() -> None:
    """Log whether the per-frame modules run compiled: from source the gateway's own work
    per relayed message is about 1.6 times as much, and an operator should know."""
    import logging

    log = logging.getLogger("tidegate.gateway")
    kind, why = STATUS
    if kind == "compiled" and compiled():
        log.info("per-frame modules %s", why)
    else:
        log.warning("per-frame modules run from source, %s", why)
