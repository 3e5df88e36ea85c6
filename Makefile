# Shipdesk: `make run` for the demo, `make test` for the suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
NAME   ?=
DB     ?=
PYTEST_ARGS ?= -n 2
export PORT

.PHONY: run test bench bench-readme lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

run: install
	@bash scripts/run.sh

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(if $(DB),--db $(DB)) $(NAME)

bench-readme: install
	$(BIN)/python -m bench.readme

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) db.sqlite3* media/ .pytest_cache
