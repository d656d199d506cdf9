# ecs-dns-reaper — every target does its own set-up on a fresh machine.
#   make demo   local AWS + a small estate, one sweep, a summary and the report
#   make test   every test, the end-to-end ones against the local AWS included
#   make bench  a 10,000-record estate, one sweep of the release build, BENCHMARKS.md
#               (scale it: make bench BENCH_ARGS="--records 2000 --dead-percent 20")

SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
# Pinned Python tools: moto for the local AWS, cfn-lint for template.yaml.
REQUIREMENTS := tests/localaws/requirements.txt tests/template/requirements.txt
STAMP := $(VENV)/.installed-$(shell cat $(REQUIREMENTS) | cksum | cut -d' ' -f1)

# The SDK must never reach for real AWS or the instance metadata service.
export AWS_EC2_METADATA_DISABLED := true
export LOCALAWS_PYTHON := $(abspath $(PYTHON))

.PHONY: demo test bench venv lint clean-venv

$(STAMP): $(REQUIREMENTS)
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --disable-pip-version-check --quiet --no-deps -r tests/localaws/requirements.txt
	$(PYTHON) -m pip install --disable-pip-version-check --quiet --no-deps -r tests/template/requirements.txt
	$(PYTHON) -m pip check --disable-pip-version-check
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

test: venv
	$(PYTHON) -m pytest -q tests/localaws
	$(VENV)/bin/cfn-lint template.yaml
	cargo build --locked --examples
	cargo test --locked --lib --bins --tests

demo: venv
	cargo build --locked --bin ecs-dns-reaper --example demo
	cargo run --locked --quiet --example demo

# The estate serves a listener per endpoint: raise the open-file soft limit to the
# hard limit (the sweep itself runs under Lambda's 1,024; see examples/bench.rs).
bench: venv
	cargo build --release --locked --bin ecs-dns-reaper
	cargo build --locked --example bench
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true; \
	  cargo run --locked --quiet --example bench -- $(BENCH_ARGS)

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings

clean-venv:
	rm -rf $(VENV)
