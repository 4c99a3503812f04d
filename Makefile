# OMS developer entry points (GNU make). `make run` installs into .venv and starts the local stack.

# python3.11 when it exists, else python3; `make PYTHON=/path/to/python` overrides both.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
endif

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Worker processes of `make test` (pytest-xdist): the tests mostly wait on brokers, databases and processes, so three
# workers share two cores well. PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 3
MYPY_ARGS ?=
BENCH_ARGS ?=
# Extra arguments of `oms up`, e.g. make run OMS_UP_ARGS="--broker-port 19092"
OMS_UP_ARGS ?=
# `make faults`: orders placed, and how many times each service is killed (CI runs tests/faults with fewer).
FAULTS_ORDERS ?= 120
FAULTS_ROUNDS ?= 3
# `make faults`: the mail catcher stays down at least this long (seconds) while the load goes on.
FAULTS_SMTP_OUTAGE_S ?= 600

# tools/devstack (the `oms` command and the local stack) depends on the services; no service depends on it.
PACKAGES := shared services/orders services/inventory services/notifications services/erp-bridge services/analytics services/console \
            tools/devstack
# Reinstall whenever a distribution's metadata or a pin changes (wildcard: a file not written yet is skipped).
INSTALL_INPUTS := $(wildcard pyproject.toml constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES)))

.DEFAULT_GOAL := help
.PHONY: help venv install run down status demo test faults lint typecheck docs bench clean check-python

help:
	@echo "make install    create .venv and install every package (editable) with dev tools"
	@echo "make run        start the local stack in the foreground (Ctrl-C stops it; OMS_UP_ARGS='--broker-port 19092')"
	@echo "make down       stop a stack started elsewhere; make status / make demo"
	@echo "make test       run the whole suite (PYTEST_WORKERS=3; one selection: PYTEST_ARGS='-k orders -x')"
	@echo "make faults    kill -9 every service, stop PostgreSQL 30 s, poison every topic, under load; then audit (needs OMS_TEST_POSTGRES_URL)"
	@echo "make lint | typecheck | docs | bench | clean"

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
		echo "error: OMS needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>/dev/null || echo missing)." >&2; \
		echo "       Install python3.11 or run: make PYTHON=/path/to/python3.11 ..." >&2; \
		exit 1; }

$(BIN)/python:
	@$(MAKE) --no-print-directory check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

venv: $(BIN)/python

$(STAMP): $(BIN)/python $(INSTALL_INPUTS)
	$(BIN)/pip install -c constraints.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	@touch $@

install: $(STAMP)

run: install
	$(BIN)/oms up $(OMS_UP_ARGS)

down:
	@if [ -x $(BIN)/oms ]; then $(BIN)/oms down; else echo "no $(BIN)/oms: nothing to stop"; fi

status: install
	$(BIN)/oms status

demo: install
	$(BIN)/oms demo

# Without PYTEST_ARGS: everything but the browser suite on $(PYTEST_WORKERS) workers, then the browser suite in one
# process (it starts one local stack for all its scenarios). Both parts run even when the first fails.
test: install
	@if [ -n "$(strip $(PYTEST_ARGS))" ]; then $(BIN)/pytest $(PYTEST_ARGS); else \
		rc=0; \
		$(BIN)/pytest -n $(PYTEST_WORKERS) --ignore=tests/browser || rc=$$?; \
		$(BIN)/pytest tests/browser || rc=$$?; \
		exit $$rc; fi

# The full fault run: more orders, every service killed FAULTS_ROUNDS times, the SMTP catcher down for a while;
# PostgreSQL (a private server of the test) down for 30 s under the same load; a poison message on every topic and
# `oms dlq replay`; then tables of what was done and what the audits found.
faults: install
	@if [ -z "$$OMS_TEST_POSTGRES_URL" ]; then \
		echo "error: make faults needs PostgreSQL: set OMS_TEST_POSTGRES_URL=postgresql+asyncpg://user@host:5432/db" >&2; \
		exit 2; fi
	@mkdir -p var && rm -f var/faults.json var/faults-db.json var/faults-poison.json var/faults-broker.json
	@rc=0; OMS_FAULTS_ORDERS=$(FAULTS_ORDERS) OMS_FAULTS_ROUNDS=$(FAULTS_ROUNDS) OMS_FAULTS_SMTP_OUTAGE=1 OMS_FAULTS_SMTP_OUTAGE_S=$(FAULTS_SMTP_OUTAGE_S) \
		OMS_FAULTS_REPORT=var/faults.json OMS_FAULTS_DB_REPORT=var/faults-db.json \
		OMS_FAULTS_POISON_REPORT=var/faults-poison.json $(BIN)/pytest tests/faults $(PYTEST_ARGS) || rc=$$?; \
		$(BIN)/python -m tests.faults.report var/faults.json var/faults-db.json var/faults-poison.json var/faults-broker.json || true; \
		exit $$rc

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy $(MYPY_ARGS)

docs: install
	$(BIN)/python -m oms_devstack.asyncapi docs/asyncapi

bench: install
	@if [ -f bench/__main__.py ]; then $(BIN)/python -m bench $(BENCH_ARGS); \
	elif [ -f bench/run.py ]; then $(BIN)/python bench/run.py $(BENCH_ARGS); \
	else echo "no bench/run.py yet"; fi

clean:
	@if [ -x $(BIN)/oms ] && [ -f var/stack.json ]; then $(BIN)/oms down; fi
	rm -rf var .pytest_cache .mypy_cache .ruff_cache build dist
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -print -exec rm -rf {} +
