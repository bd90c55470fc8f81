"""Which code the gateway runs (gateway/native.py): a compiled per-frame module is used only
while the build is whole and matches what it was built from; otherwise every one of them is
imported from its source."""

import importlib
import importlib.machinery
import json
import sys

import pytest

from gateway import native

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
MODULES = ("alpha", "beta")
LIBRARY = f"{native.GROUP}__mypyc{SUFFIX}"


def package(tmp_path, *, built=True, manifest=True):
    """A package of two modules "compiled" (files where their extensions and the shared
    library would be) and recorded as they are now, unless told otherwise."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for name in MODULES:
        (pkg / f"{name}.py").write_text(f"WHERE = 'source of {name}'\n")
        if built:
            (pkg / f"{name}{SUFFIX}").write_bytes(f"extension {name}".encode())
    if built:
        (tmp_path / LIBRARY).write_bytes(b"the shared library")
    if manifest:
        record = {
            "sources": native.source_hashes(pkg, MODULES),
            "dependencies": {},
            "built": native.built_hashes(pkg, MODULES),
        }
        (pkg / native.MANIFEST.name).write_text(json.dumps(record))
    return pkg


def judge(pkg, search_path=None):
    return native.judge(pkg, MODULES, dependencies={}, search_path=search_path or [str(pkg.parent)])


def test_a_whole_build_that_matches_its_record_is_used(tmp_path):
    assert judge(package(tmp_path)) == ("compiled", "compiled with mypyc: alpha, beta")


def test_without_extensions_the_sources_run(tmp_path):
    assert judge(package(tmp_path, built=False, manifest=False))[0] == "source"


def test_a_source_changed_since_it_was_compiled_is_named(tmp_path):
    pkg = package(tmp_path)
    (pkg / "beta.py").write_text("WHERE = 'edited'\n")
    assert judge(pkg) == ("stale", "changed since compiled: beta.py (make compile)")


def test_a_module_the_compiled_ones_are_built_against_changed(tmp_path):
    pkg = package(tmp_path)
    changed = native.judge(pkg, MODULES, dependencies={"gateway/payloads.py": "0" * 64}, search_path=[str(tmp_path)])
    assert changed == ("stale", "changed since compiled: gateway/payloads.py (make compile)")


@pytest.mark.parametrize(
    "record", ["", "{", "[]", '{"sources": []}', '{"sources": {"alpha": 1}}', '{"other": {}}', "null"]
)
def test_extensions_without_a_readable_record_are_not_trusted(tmp_path, record):
    pkg = package(tmp_path, manifest=False)
    (pkg / native.MANIFEST.name).write_text(record)
    assert judge(pkg)[0] == "stale"


def test_extensions_without_any_record_are_not_trusted(tmp_path):
    assert judge(package(tmp_path, manifest=False))[0] == "stale"


def test_a_build_that_left_one_module_out_is_not_used(tmp_path):
    pkg = package(tmp_path)
    (pkg / f"beta{SUFFIX}").unlink()
    assert judge(pkg) == ("stale", "not all compiled: beta missing (make compile)")


def test_extensions_without_their_shared_library_are_not_used(tmp_path):
    pkg = package(tmp_path)
    (tmp_path / LIBRARY).unlink()
    assert judge(pkg)[0] == "stale"


def test_files_of_another_build_are_not_used(tmp_path):
    pkg = package(tmp_path)
    (tmp_path / LIBRARY).write_bytes(b"a library from some other build")
    assert judge(pkg) == ("stale", f"not the files the recorded build made: {LIBRARY} (make compile)")


def test_a_shared_library_the_extensions_would_not_find_is_not_used(tmp_path):
    # The extensions import the library by name from sys.path: a package moved or linked
    # elsewhere, whose root is not on the path, would fail to import.
    pkg = package(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    kind, why = judge(pkg, search_path=[str(elsewhere)])
    assert kind == "stale" and "not the one imported from sys.path" in why


def test_stale_modules_are_imported_from_their_sources_though_an_extension_is_beside_them(tmp_path, monkeypatch):
    pkg = package(tmp_path)
    (pkg / "__init__.py").write_text("")
    (pkg / "alpha.py").write_text("WHERE = 'the edited source'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError):  # without the guard, the (here unloadable) extension wins
        importlib.import_module("pkg.alpha")
    sys.modules.pop("pkg", None)
    finder = native._SourceFirst("pkg", pkg, MODULES)
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    try:
        assert importlib.import_module("pkg.alpha").WHERE == "the edited source"
        assert importlib.import_module("pkg.beta").WHERE == "source of beta"  # all of them, not just the edited one
    finally:
        for name in ("pkg", "pkg.alpha", "pkg.beta"):
            sys.modules.pop(name, None)
