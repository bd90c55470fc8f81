"""``make compile``: build the gateway's per-frame modules (``native.COMPILED``) into C
extensions beside their sources with mypyc, and record what they were built from and what
the build made (``native.MANIFEST``). Run as ``python -m gateway.build`` (``--if-needed``:
only when the gateway would not run the build there is); needs a C compiler, the Python
headers and requirements-build.txt."""

from __future__ import annotations

import json
import os
import sys

from gateway.native import (
    COMPILED,
    GROUP,
    MANIFEST,
    PACKAGE_DIR,
    ROOT,
    built_hashes,
    dependency_hashes,
    extension_of,
    judge,
    source_hashes,
)

# mypy's settings for the build: the modules' own annotations, with libraries read as Any
# where they have no types (Django's stubs and plugin are development tools, not installed
# in production, and typing is `make lint`'s job, not the build's).
CONFIG = PACKAGE_DIR / "mypyc.ini"
BUILD_DIR = ROOT / "var" / "mypyc-build"


def build() -> None:
    from mypyc.build import mypycify  # build tools, not runtime ones
    from setuptools import Distribution

    os.chdir(ROOT)  # mypycify names the modules by their paths from the project root
    paths = [str((PACKAGE_DIR / f"{name}.py").relative_to(ROOT)) for name in COMPILED]
    # What the build is made from, read before it starts: a file edited meanwhile makes the
    # record disagree, and the gateway runs from source until the next build.
    sources, dependencies = source_hashes(), dependency_hashes()
    MANIFEST.unlink(missing_ok=True)  # no record while the extensions are being replaced
    # Unlinked, not overwritten: a gateway running them keeps the files it has mapped.
    for name in COMPILED:
        while (old := extension_of(PACKAGE_DIR, name)) is not None:
            old.unlink()
    for old in ROOT.glob(f"{GROUP}__mypyc.*"):
        old.unlink()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    extensions = mypycify(
        ["--config-file", str(CONFIG.relative_to(ROOT)), *paths],
        opt_level="3",
        group_name=GROUP,
        target_dir=str(BUILD_DIR / "c"),
    )
    dist = Distribution({"name": GROUP, "ext_modules": extensions, "py_modules": [], "packages": []})
    command = dist.get_command_obj("build_ext")
    command.inplace = True
    command.build_temp = str(BUILD_DIR / "obj")
    command.build_lib = str(BUILD_DIR / "lib")
    dist.run_command("build_ext")
    record = {"sources": sources, "dependencies": dependencies, "built": built_hashes()}
    MANIFEST.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    kind, why = judge()
    if "--if-needed" in sys.argv[1:] and kind == "compiled":
        print(f"gateway: {why}, nothing to do")
        sys.exit(0)
    build()
    kind, why = judge()
    print(f"gateway: {why}")
    sys.exit(0 if kind == "compiled" else 1)
