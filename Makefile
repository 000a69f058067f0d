# Hạn Chót — the whole set-up is `make run` and `make test` (README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := app
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install install-dev check run test bench migrate demo clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

## One pip run for both files (requirements-dev.txt includes requirements.txt): one resolution, not two.
$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(BIN)/activate
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask demo load

## Serve the app with its scheduler on http://127.0.0.1:5000 (SQLite in instance/). Without SECRET_KEY a
## random one is generated once into instance/secret_key (mode 600) and reused; the fixed development
## key is refused on any address but loopback (docs/operations.md, "Sign-in, sessions and limits").
instance/secret_key:
	mkdir -p instance
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@

## HOST and PORT move it, and the links in mail follow (APP_URL, unless set, is http://HOST:PORT).
run: demo instance/secret_key
	SECRET_KEY="$${SECRET_KEY:-$$(cat instance/secret_key)}" \
	APP_URL=$${APP_URL:-http://$${HOST:-127.0.0.1}:$${PORT:-5000}} \
		$(BIN)/flask serve --host $${HOST:-127.0.0.1} --port $${PORT:-5000}

## The checks (pyproject.toml): ruff (with no inline imports in the layers), import-linter
## (the layer rules), mypy (workflow/ and notifications/).  `make test` runs them first.
check: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## The whole suite: SQLite, and PostgreSQL too when TEST_DATABASE_URL is set, spread over PYTEST_WORKERS
## processes (pytest-xdist; default one per core, `PYTEST_WORKERS=0` runs it in one process). PYTEST_ARGS
## goes to pytest as it is (`make test PYTEST_ARGS="tests/test_api.py -k token"`). The 25 slowest
## tests are listed at the end.
PYTEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
test: check
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --durations=25 $(PYTEST_ARGS)

## Benchmarks: ratios against a baseline run in the same process (figures in README).
bench: install-dev
	$(BIN)/python bench/bench_workdays.py
	$(BIN)/python bench/bench_mail.py 1000
	$(BIN)/python bench/bench_scores.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis

## Production shape on this machine: local PostgreSQL, gunicorn (WEB_WORKERS, default 4) and
## `flask scheduler run` as separate processes (deploy/run-prod.sh; docs/operations.md).
prod: install
	bash deploy/run-prod.sh

## Measurements under load on gunicorn + PostgreSQL (private databases; figures in docs/operations.md).
## LOAD_RESTART_PG=private restarts a throwaway PostgreSQL cluster during load; =1 the shared server.
load: install-dev
	$(BIN)/python bench/load.py
	$(BIN)/python bench/burst.py
	TICK_KEEP_BASE=1 $(BIN)/python bench/tick_scale.py
	MEMORY_DROP_BASE=1 $(BIN)/python bench/memory.py

## The English catalog: re-extract the Vietnamese msgids from the code and templates, merge them into
## translations/en (new ones untranslated, never fuzzy) and compile messages.mo, which the app loads.
.PHONY: translations
translations: install-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 --project "Hạn Chót" \
		-o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -l en --no-fuzzy-matching
	$(BIN)/pybabel compile -d translations --statistics
