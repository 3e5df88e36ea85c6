# Shipdesk: `make run` for the demo, `make start` for the demo as in production (honcho:
# gunicorn and task clusters), `make test` for the suite, `make check` for CI's static checks.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
NAME   ?=
DB     ?=
PYTEST_ARGS ?= -n 2
export PORT

.PHONY: run start test bench bench-readme lint check install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

run: install
	@PY=$(BIN)/python bash scripts/run.sh

start: install
	@BIN=$(BIN) bash scripts/start.sh

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(if $(DB),--db $(DB)) $(NAME)

bench-readme: install
	$(BIN)/python -m bench.readme

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# What CI checks besides the tests: lint, migrations in step with the models, the French catalogue.
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.test_settings $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python scripts/check_locale.py

clean:
	rm -rf $(VENV) db.sqlite3* media/ .pytest_cache build/
