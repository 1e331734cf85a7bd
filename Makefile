# Two commands matter: `make run` and `make test`. Both bootstrap .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: venv run test lint bench clean vendor browser deploy-check sam-venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt layers/chatbridge/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# The operator's chats, queued replies and secrets live in .chatbridge/ (git-ignored) across restarts;
# make run RUN_ARGS=--ephemeral keeps nothing.
run: venv
	$(BIN)/chatbridge local --seed --data .chatbridge $(RUN_ARGS)

# make test lints first: a finding fails CI (.ci/run calls make test) before any test runs
test: venv lint
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check --no-cache .

# make bench BENCH_ARGS="--quick --json bench.json"
bench: venv
	$(BIN)/python -m bench $(BENCH_ARGS)

# The console's third-party browser code, committed under console/vendor/ with its version and sha256.
# Run only to upgrade (needs npm and the registry); make test never does.
AWS4FETCH_VERSION := 1.0.20
JS_YAML_VERSION := 4.1.0
vendor:
	rm -rf build/vendor && mkdir -p build/vendor
	cd build/vendor && npm pack --silent aws4fetch@$(AWS4FETCH_VERSION) >/dev/null && tar xzf aws4fetch-$(AWS4FETCH_VERSION).tgz
	{ printf '// aws4fetch %s (npm: package/dist/aws4fetch.esm.mjs, MIT), vendored by `make vendor`\n' $(AWS4FETCH_VERSION); \
	  printf '// sha256 of the upstream file: %s\n' $$(sha256sum build/vendor/package/dist/aws4fetch.esm.mjs | cut -d' ' -f1); \
	  cat build/vendor/package/dist/aws4fetch.esm.mjs; } > console/vendor/aws4fetch.js
	rm -rf build/vendor/package
	cd build/vendor && npm pack --silent js-yaml@$(JS_YAML_VERSION) >/dev/null && tar xzf js-yaml-$(JS_YAML_VERSION).tgz
	{ printf '// js-yaml %s (npm: package/dist/js-yaml.mjs, MIT), vendored by `make vendor`\n' $(JS_YAML_VERSION); \
	  printf '// sha256 of the upstream file: %s\n' $$(sha256sum build/vendor/package/dist/js-yaml.mjs | cut -d' ' -f1); \
	  cat build/vendor/package/dist/js-yaml.mjs; } > console/vendor/js-yaml.js
	rm -rf build/vendor

# The browser tests' chromium (Debian's; Playwright cannot download its own here). Needs root.
browser:
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

# `sam build` as a deploy does (arm64 layer: aarch64 wheels, no dev packages), then each built handler imported
# with only its layer and boto3 on the path (docs/deploy.md). Skips, saying why, without the SAM CLI or python3.12.
deploy-check:
	$(PYTHON) tools/deploy_check.py

# The SAM CLI in a venv of its own (~315 MB, its own boto3): never in the project's requirements.
sam-venv:
	$(PYTHON) -m venv build/sam-venv
	build/sam-venv/bin/pip install --quiet --disable-pip-version-check aws-sam-cli

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
