# Two commands matter: `make run` and `make test`. Both bootstrap .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: venv run test lint bench clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt layers/chatbridge/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: venv
	$(BIN)/chatbridge local --seed

test: venv
	$(BIN)/python -m pytest -q

# make bench BENCH_ARGS="--quick --json bench.json"
bench: venv
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
