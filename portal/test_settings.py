"""Settings for the test run: development mode and a throwaway data directory, chosen
before the real settings read the environment."""

import os
import tempfile

os.environ.setdefault("TIDEGATE_DEBUG", "1")
os.environ.setdefault("TIDEGATE_DATA_DIR", tempfile.mkdtemp(prefix="tidegate-test-"))

from portal.settings import *  # noqa: E402,F403
