"""Which code the gateway runs (gateway/native.py): a compiled per-frame module is used only
while it matches its source; otherwise every one of them is imported from its source."""

import importlib
import importlib.machinery
import json
import sys

import pytest

from gateway import native

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def package(tmp_path, modules=("alpha", "beta"), *, built=True, manifest=True):
    """A package with two modules, "compiled" (a file where their extension would be) and
    recorded as they are now, unless told otherwise."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for name in modules:
        (pkg / f"{name}.py").write_text(f"WHERE = 'source of {name}'\n")
        if built:
            (pkg / f"{name}{SUFFIX}").write_bytes(b"not really a shared object")
    if manifest:
        hashes = native.source_hashes(pkg, modules)
        (pkg / native.MANIFEST.name).write_text(json.dumps({"sources": hashes}))
    return pkg


def test_extensions_that_match_their_recorded_sources_are_used(tmp_path):
    pkg = package(tmp_path)
    assert native.judge(pkg, ("alpha", "beta")) == ("compiled", "compiled with mypyc: alpha, beta")


def test_without_extensions_the_sources_run(tmp_path):
    pkg = package(tmp_path, built=False, manifest=False)
    assert native.judge(pkg, ("alpha", "beta"))[0] == "source"


def test_a_source_changed_since_it_was_compiled_is_named(tmp_path):
    pkg = package(tmp_path)
    (pkg / "beta.py").write_text("WHERE = 'edited'\n")
    assert native.judge(pkg, ("alpha", "beta")) == ("stale", "changed since compiled: beta.py (make compile)")


@pytest.mark.parametrize("record", ["", "{", "[]", '{"sources": []}', '{"sources": {"alpha": 1}}', '{"other": {}}'])
def test_extensions_without_a_readable_record_of_their_sources_are_not_trusted(tmp_path, record):
    pkg = package(tmp_path, manifest=False)
    (pkg / native.MANIFEST.name).write_text(record)
    assert native.judge(pkg, ("alpha", "beta"))[0] == "stale"


def test_extensions_without_any_record_are_not_trusted(tmp_path):
    pkg = package(tmp_path, manifest=False)
    assert native.judge(pkg, ("alpha", "beta"))[0] == "stale"


def test_a_build_that_left_one_module_out_is_not_used(tmp_path):
    pkg = package(tmp_path)
    (pkg / f"beta{SUFFIX}").unlink()
    assert native.judge(pkg, ("alpha", "beta")) == ("stale", "not all compiled: beta missing (make compile)")


def test_stale_modules_are_imported_from_their_sources_though_an_extension_is_beside_them(tmp_path, monkeypatch):
    pkg = package(tmp_path)
    (pkg / "__init__.py").write_text("")
    (pkg / "alpha.py").write_text("WHERE = 'the edited source'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError):  # without the guard, the (here unloadable) extension wins
        importlib.import_module("pkg.alpha")
    sys.modules.pop("pkg", None)
    finder = native._SourceFirst("pkg", pkg, ("alpha", "beta"))
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    try:
        assert importlib.import_module("pkg.alpha").WHERE == "the edited source"
        assert importlib.import_module("pkg.beta").WHERE == "source of beta"  # all of them, not just the edited one
    finally:
        for name in ("pkg", "pkg.alpha", "pkg.beta"):
            sys.modules.pop(name, None)
