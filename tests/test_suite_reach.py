"""The suite runs every test the repository holds: `make test` runs pytest over
``testpaths``, so a folder of tests left out of it (a new app's) would pass unnoticed."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_folder_of_tests_is_in_testpaths():
    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    folders = {p.parent.parent.name for p in ROOT.glob("*/tests/test_*.py")} | {"tests"}
    assert folders - set(testpaths) == set(), "add these to [tool.pytest.ini_options] testpaths"
