# The two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format browser check-deploy backup restore clean \
	bench-generate bench-run

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): requirements.txt requirements-test.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $(STAMP)

# Debian's Chromium for the browser tests; Playwright's own download cannot work
# air-gapped. Skipped when a chromium binary is already on the PATH.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install Debian's chromium package (sudo apt-get install chromium) for the browser tests."; fi; }

run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-true} $(PY) manage.py load_demo --once
	DEBUG=$${DEBUG:-true} $(PY) manage.py runserver $(HOST):$(PORT)

# Tests run with production-like settings (DEBUG off) minus TLS redirects and
# the collectstatic step, so they need no certificate and no build.
TEST_ENV := DEBUG=false SECRET_KEY=test-only-key-0123456789-abcdefghijklmnopqrstuvwxyz \
	SECURE_SSL_REDIRECT=false SECURE_COOKIES=false STATIC_MANIFEST=false \
	WHITENOISE_USE_FINDERS=true

test: $(STAMP) browser
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check-deploy: $(STAMP)
	DEBUG=false SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  ALLOWED_HOSTS=example.org $(PY) manage.py check --deploy --fail-level WARNING

# The database named by DATABASE_URL (or the SQLite file) to one file and back:
# `make backup [BACKUP=path]`, `make restore BACKUP=path` (asks before replacing).
# Neither needs the app's SECRET_KEY, so a shell without one may run them.
BACKUP_ENV := CLAIMS_ALLOW_DEV_KEY=$${CLAIMS_ALLOW_DEV_KEY:-true}

backup: $(STAMP)
	$(BACKUP_ENV) $(PY) manage.py backup $(if $(BACKUP),"$(BACKUP)")

restore: $(STAMP)
	@test -n "$(BACKUP)" || { echo "Name the file: make restore BACKUP=path"; exit 2; }
	$(BACKUP_ENV) $(PY) manage.py restore "$(BACKUP)"

# The benchmark (bench/README.md, docs/performance.md). DATABASE_URL must name a
# PostgreSQL database whose name contains "bench": bench-generate wipes it.
# `make bench-generate BENCH_CLAIMS=20000` and `make bench-run BENCH_SECONDS=2`
# for a quick look; BENCH_ARGS passes anything else (e.g. --only claim_list).
BENCH_CLAIMS ?= 1000000
BENCH_SECONDS ?= 20
BENCH_ARGS ?=

bench-generate: $(STAMP)
	$(PY) bench/generate --claims $(BENCH_CLAIMS) $(BENCH_ARGS)

# wrk (Debian's package) drives the load; without it bench/run falls back to a
# slower Python load generator.
bench-run: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk not found (sudo apt-get install wrk); using the Python load generator."; fi; }
	$(PY) bench/run --seconds $(BENCH_SECONDS) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
