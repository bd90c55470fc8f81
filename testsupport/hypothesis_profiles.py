"""Hypothesis settings for the property tests (``test_fuzz_*.py``), chosen by the
``HYPOTHESIS_PROFILE`` environment variable and loaded once from the root conftest.py.

- ``suite`` (the default): few examples, derandomized (the same inputs on every run, so the
  suite never flakes), no deadline (the machine may be busy), no example database.
- ``fuzz``: many random examples with an example database under ``var/`` so a failure found
  once is tried first next time; what ``make fuzz`` runs (``HYPOTHESIS_PROFILE=fuzz``).

A test asks for its suite budget with :func:`examples`; under ``fuzz`` the profile's larger
budget wins.
"""

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]

settings.register_profile(
    "suite", max_examples=100, deadline=None, derandomize=True, database=None, suppress_health_check=_QUIET
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "1000")),
    deadline=None,
    database=DirectoryBasedExampleDatabase(os.path.join("var", "hypothesis")),
    suppress_health_check=_QUIET,
    print_blob=True,
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "suite")
settings.load_profile(PROFILE)


def examples(suite: int) -> settings:
    """``@examples(150)``: 150 examples in the suite; the fuzz profile's budget under ``fuzz``."""
    if PROFILE == "suite":
        return settings(max_examples=suite)
    return settings()
