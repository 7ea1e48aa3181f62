# The vocabulary of the README. Every target bootstraps what it needs and is idempotent.
SHELL := /bin/bash
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# jsii names the end-of-life Node majors it should not warn about (this machine has Node 20).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export UV_LINK_MODE := copy

VENV := .venv
PY := $(VENV)/bin/python
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.cache/spaces-tools/uv/bin/uv)
LIVEKIT := .tools/bin/livekit-server
WEB_STAMP := web/dist/index.html

.PHONY: help dev test test-unit test-integration test-infra test-e2e test-lambda-python lint bench bench-api \
        bench-spotlight bench-storm bench-broadcast synth tools system-deps venv web clean livekit-archive

help:
	@echo "make dev     - run livekit-server, the Spaces API, the media agent and the web page locally"
	@echo "make test    - run the whole test suite (installs what it needs)"
	@echo "make bench   - run the benchmarks (results in docs/benchmarks.md)"
	@echo "make synth   - cdk synth (offline, cdk-nag checks included)"
	@echo "make livekit-archive - the SFU nodes' hardened livekit-server, for cdk deploy -c livekit_archive=..."

$(UV):
	@echo "bootstrap: installing uv into ~/.cache/spaces-tools/uv"
	python3 -m venv $(HOME)/.cache/spaces-tools/uv
	$(HOME)/.cache/spaces-tools/uv/bin/pip install -q uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-groups
	@touch $@

venv: $(VENV)/.synced

$(LIVEKIT): scripts/install-livekit.sh scripts/build-livekit.sh scripts/livekit_hardening.py
	bash scripts/install-livekit.sh .tools/bin

tools: $(LIVEKIT)

# The SFU nodes' livekit-server, hardened like the local one (scripts/livekit_hardening.py), for
# `cdk deploy -c livekit_archive=<the file it prints>`. LIVEKIT_ARCH=amd64 for x86_64 nodes.
LIVEKIT_ARCH ?= arm64
livekit-archive:
	bash scripts/build-livekit-archive.sh $(LIVEKIT_ARCH)

system-deps:
	@bash scripts/install-system-deps.sh

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_STAMP): web/node_modules/.installed $(shell find web/src web/index.html -type f 2>/dev/null)
	cd web && npm run build --silent

web: $(WEB_STAMP)

dev: venv tools web system-deps
	$(PY) -m devstack

test: venv tools web system-deps test-lambda-python
	$(PY) -m pytest

# The control plane's unit tests on the Lambda's Python with the Lambda's dependencies only.
test-lambda-python: venv
	UV=$(UV) bash scripts/test-lambda-python.sh

test-unit: venv
	$(PY) -m pytest -m unit

test-integration: venv tools system-deps
	$(PY) -m pytest -m integration

test-infra: venv system-deps web
	$(PY) -m pytest -m infra

test-e2e: venv tools web system-deps
	$(PY) -m pytest -m e2e

# Fails on any lint finding, unformatted file or type error (mypy's scope and strictness: pyproject).
lint: venv system-deps
	$(VENV)/bin/ruff check .
	shellcheck infrastructure/node/*.sh scripts/*.sh
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: bench-api bench-spotlight

bench-api: venv
	$(PY) -m bench.control_plane

bench-spotlight: venv tools system-deps
	@bash scripts/install-system-deps.sh --recordings
	$(PY) -m bench.spotlight

# Not part of `make bench`: minutes per design on a shared box (docs/bench/control_plane.md).
bench-storm: venv system-deps
	$(PY) -m bench.control_plane.join_storm --joins $(or $(JOINS),4000) --workers $(or $(WORKERS),4)

# The broadcast tier (docs/bench/broadcast.md): nginx, livekit-server, Chromium and hls.js (web/).
bench-broadcast: venv tools system-deps web
	$(PY) -m bench.broadcast.cost
	$(PY) -m bench.broadcast.fanout
	$(PY) -m bench.broadcast.composer_cpu --seconds 30
	$(PY) -m bench.broadcast.latency --seconds 100

# The CDK CLI pinned next to aws-cdk-lib (cloud assembly schema); installed once, then offline.
CDK_CLI := .tools/cdk/node_modules/.bin/cdk
$(CDK_CLI):
	npm install --prefix .tools/cdk --no-audit --no-fund --loglevel=error aws-cdk@2.1148.1

# Offline: no lookups, no credentials, no pip (`cdk deploy` builds the Lambda bundle).
synth: venv web $(CDK_CLI)
	CDK_DISABLE_CLI_TELEMETRY=true $(CDK_CLI) synth --quiet --no-notices --no-version-reporting \
		-c lambda_bundling=false

clean:
	rm -rf cdk.out web/dist .pytest_cache bench/out
