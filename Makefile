# The README's commands. Everything a fresh machine needs is installed from here.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
export TIDEGATE_DEBUG ?= 1

.PHONY: run test bench bench-paced conformance fuzz setup setup-prod compile lint system-packages clean

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-build.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

# The gateway's per-frame modules compiled with mypyc (gateway/native.py): built when the
# gateway would not run the build there is (a module or one it depends on changed, files
# missing); needs gcc and the Python headers. Without them the gateway runs the same modules
# from source (slower per frame; it logs which it runs).
$(VENV)/.build-installed: requirements-build.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-build.txt
	touch $@
compile: $(VENV)/.build-installed
	$(PY) -m gateway.build --if-needed

# Production (docs/deploy.md): the runtime packages and the front-end assets, no test tools.
setup-prod:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	npm ci --omit=dev --no-audit --no-fund --loglevel=error
	$(MAKE) compile

# Debian packages the tests start themselves: chromium for the browser tests (a browser
# download does not work here), redis-server for shared rate limits, nginx for the benchmark,
# PostgreSQL and nginx's stream module for the scale-out tests.
SYSTEM_PACKAGES := chromium:chromium redis-server:redis-server nginx:nginx-light pg_ctlcluster:postgresql \
	/usr/lib/nginx/modules/ngx_stream_module.so:libnginx-mod-stream
system-packages:
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
	  what=$${pair%%:*}; \
	  if [ "$${what#/}" != "$$what" ]; then test -e "$$what"; else command -v "$$what" >/dev/null; fi \
	    || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; fi

run: setup compile
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py seed_demo
	$(PY) manage.py runall

# pytest-xdist: one worker per core (TEST_WORKERS=1 runs serially). A test file stays on
# one worker (--dist loadfile), so module fixtures hold; every worker starts its own servers
# (stack, Redis, PostgreSQL) on free ports in its own temporary directories. PYTEST_ARGS
# passes more, e.g. PYTEST_ARGS=--durations=20.
TEST_WORKERS ?= auto
PYTEST_ARGS ?=
test: setup compile system-packages
	$(PY) manage.py makemigrations --check --dry-run -v 0
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The gateway against nginx and a direct connection: docs/benchmarks.{md,json,png}.
bench: setup compile system-packages
	$(PY) -m bench.run

# Busy polling off, adaptive and on at paced loads, against nginx: the table in docs/gateway.md
# "Busy polling" (printed as Markdown; BENCH_PACED_ARGS, e.g. --reps 5 --adaptive 200:150).
bench-paced: setup compile system-packages
	$(PY) -m bench.paced $(BENCH_PACED_ARGS)

# The Autobahn test suite's fuzzing client, directly and through the gateway: docs/conformance.md.
# Its wstest runs on Python 2.7 only; it is installed into its own directory, never .venv.
PYTHON27 ?= $(firstword $(foreach p,python2.7 $(wildcard $(HOME)/.pyenv/versions/2.7*/bin/python2.7),$(shell $(p) -c 'import sys; print(sys.executable)' 2>/dev/null)))
AUTOBAHN := var/autobahn27
# The cases to run, the suite's patterns comma-separated: CASES='1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*'
# leaves out the slow 9.x (large messages) and the compression cases (docs/conformance.md).
CASES ?= *
conformance: setup compile
	@if [ -z "$(PYTHON27)" ]; then 	  echo "make conformance: skipped, Python 2.7 not found (the Autobahn test suite runs on nothing newer)."; 	  echo "  Install it (pyenv install 2.7.18) or pass PYTHON27=/path/to/python2.7."; exit 0; fi; 	test -d $(AUTOBAHN)/autobahntestsuite || PIP_CONFIG_FILE=/dev/null PIP_CONSTRAINT= $(PYTHON27) -m pip install -q \
	  --disable-pip-version-check --target $(AUTOBAHN) autobahntestsuite==0.8.2; \
	$(PY) -m tests.conformance --python27 $(PYTHON27) --autobahn $(AUTOBAHN) --cases '$(CASES)'

# The long fuzz run: Schemathesis against a real portal for FUZZ_SECONDS (default 10 minutes),
# then the Hypothesis property tests (files test_fuzz_*.py / test_*hostile*.py) under the fuzz profile
# (HYPOTHESIS_MAX_EXAMPLES per test, default 1000).
FUZZ_SECONDS ?= 600
fuzz: setup
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m pytest -q tests/test_schemathesis.py -k finds_nothing
	@files=$$(find . \( -path ./.venv -o -path ./node_modules \) -prune -o \
	  \( -name 'test_fuzz_*.py' -o -name 'test_*hostile*.py' \) -print); \
	if [ -n "$$files" ]; then HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q $$files; \
	else echo "fuzz: no property test files (test_fuzz_*.py, test_*hostile*.py) found"; fi

# lint-imports: the contracts in pyproject.toml ([tool.importlinter]), e.g. one direction of
# dependency between the Django apps (docs/architecture.md).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf var staticfiles gateway/compiled.json gateway/*.so tidegate_gateway__mypyc.*.so
