"""Settings for the test run: development mode and a throwaway data directory, chosen
before the real settings read the environment."""

import os
import tempfile

os.environ.setdefault("TIDEGATE_DEBUG", "1")
os.environ.setdefault("TIDEGATE_DATA_DIR", tempfile.mkdtemp(prefix="tidegate-test-"))

from portal.settings import *  # noqa: E402,F403

# A cheap hasher for the in-process tests: every factory user and every HTTP Basic call
# hashes a password, 0.24 s each with the real one. Real processes the tests start (portal,
# gateways) use the production settings and hashers.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
