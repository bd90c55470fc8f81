"""``make compile``: build the gateway's per-frame modules (``native.COMPILED``) into C
extensions beside their sources with mypyc, and record which sources they were built from
(``native.MANIFEST``). Run as ``python -m gateway.build``; needs a C compiler, the Python
headers and requirements-build.txt."""

from __future__ import annotations

import json
import os

from gateway.native import COMPILED, MANIFEST, PACKAGE_DIR, ROOT, extension_of, judge, source_hashes

GROUP = "tidegate_gateway"  # the shared library's name: tidegate_gateway__mypyc.<abi>.so
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
    hashes = source_hashes()
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
    MANIFEST.write_text(json.dumps({"sources": hashes}, indent=1) + "\n")


if __name__ == "__main__":
    build()
    print(f"gateway: {judge()[1]}")
