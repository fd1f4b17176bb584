# VoiceOps: `make run` sets up and runs everything on the embedded default; `make test` runs the suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Django 6 needs Python 3.12 or newer: use the first one found.
PYTHON ?= $(shell for p in python3.12 /root/.pyenv/versions/3.12*/bin/python3 python3.13 /root/.pyenv/versions/3.13*/bin/python3 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: run test install env lint bench clean messages

$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

.env:
	$(PY) scripts/make_env.py > .env

env: install .env

run: env
	mkdir -p var/staticfiles
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py compilemessages -v0 2>/dev/null || true
	@login="$$($(PY) manage.py demo)" && echo "$$login" && \
	echo "VoiceOps is starting at http://127.0.0.1:$(PORT)/admin/ (stop with Ctrl-C)" && \
	trap 'kill 0' EXIT INT TERM && \
	{ $(VENV)/bin/celery -A voiceops worker --beat -Q dispatch,reports,imports,webhooks,default --concurrency 2 \
	  --scheduler django_celery_beat.schedulers:DatabaseScheduler -l warning & \
	  $(PY) manage.py runserver 127.0.0.1:$(PORT) --noreload & \
	  $(PY) scripts/greet.py $(PORT) "$$(echo "$$login" | tail -n 1)"; \
	  wait -n; echo "VoiceOps stopped: the worker or the web server exited (its error is above)." >&2; exit 1; }

# Run again on SQLite (what `make run` uses): the fallbacks of campaigns/database.
SQLITE_TESTS := tests/campaigns/test_flow.py tests/campaigns/test_stats.py tests/test_demo.py tests/callbacks tests/reporting

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)
	$(VENV)/bin/python -m pytest -q --ds=tests.settings_sqlite -m "not postgresql and not worker and not browser" \
	  $(SQLITE_TESTS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf var .env

messages: install  ## regenerate the zh_Hans catalogue from the sources and compile it
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --no-location --ignore '.venv/*' --ignore 'tests/*' --ignore 'bench/*' --ignore 'var/*'
	$(PY) manage.py compilemessages -l zh_Hans
