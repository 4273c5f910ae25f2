# Flowboard: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the suite.
# Both create .venv and install requirements.txt on first use (and again when it changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test e2e install migrate lint format check-all worker beat clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py seed_demo --login
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Flowboard is on http://127.0.0.1:8000/ (admin: /admin/). Stop with Ctrl-C."
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: install
	$(BIN)/python -m pytest

# Browser tests: Debian's Chromium (apt-get install -y chromium) driven by Playwright.
e2e: install
	$(BIN)/python -m pytest -m e2e tests/e2e

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# With REDIS_URL set, tasks need a worker (and beat for the nightly recompute).
worker: install
	$(BIN)/celery -A flowboard worker --loglevel info

beat: install
	$(BIN)/celery -A flowboard beat --loglevel info

clean:
	rm -rf $(VENV) staticfiles flowboard.sqlite3
