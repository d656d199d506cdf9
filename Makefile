# ecs-dns-reaper — every target does its own set-up on a fresh machine.
#   make demo   local AWS + a small estate, one sweep, a summary and the report
#   make test   every test, the end-to-end ones against the local AWS included, and
#               the deployments' checks (the Terraform module against template.yaml,
#               terraform fmt, checkov, the docs' links)
#   make bench  a 10,000-record estate, one sweep of the release build, BENCHMARKS.md
#               (scale it: make bench BENCH_ARGS="--records 2000 --dead-percent 20")
#   make package  target/lambda/ecs-dns-reaper/bootstrap.zip for Lambda, arm64
#               (ARCH=x86_64 for x86_64), built by cargo-lambda with Zig; no Docker
#   make package-test  the same, then a test of the zip (CI: ARCH=x86_64)

SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
# Pinned Python tools: moto for the local AWS, cfn-lint for template.yaml,
# python-hcl2 and Terraform for the module's checks. checkov has a venv of its own.
REQUIREMENTS := tests/localaws/requirements.txt tests/template/requirements.txt tests/deploy/requirements.txt
CHECKOV_VENV ?= .venv-checkov
CHECKOV_REQUIREMENTS := tests/deploy/checkov-requirements.txt
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat $(CHECKOV_REQUIREMENTS) | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(shell cat $(REQUIREMENTS) | cksum | cut -d' ' -f1)

# The SDK must never reach for real AWS or the instance metadata service.
export AWS_EC2_METADATA_DISABLED := true
export LOCALAWS_PYTHON := $(abspath $(PYTHON))
export CHECKOV := $(abspath $(CHECKOV_VENV))/bin/checkov

.PHONY: demo test bench venv lint clean-venv package package-test

# The Lambda package: the architecture the deployments default to, or ARCH=x86_64.
ARCH ?= arm64
LAMBDA_VENV ?= .venv-lambda
LAMBDA_REQUIREMENTS := deploy/package-requirements.txt
LAMBDA_STAMP := $(LAMBDA_VENV)/.installed-$(shell cat $(LAMBDA_REQUIREMENTS) | cksum | cut -d' ' -f1)
PACKAGE := target/lambda/ecs-dns-reaper/bootstrap.zip
ifeq ($(ARCH),arm64)
RUST_TARGET := aarch64-unknown-linux-gnu
else ifeq ($(ARCH),x86_64)
RUST_TARGET := x86_64-unknown-linux-gnu
else
$(error ARCH must be arm64 or x86_64 (Lambda's two architectures), not '$(ARCH)')
endif

$(STAMP): $(REQUIREMENTS)
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --disable-pip-version-check --quiet --no-deps -r tests/localaws/requirements.txt
	$(PYTHON) -m pip install --disable-pip-version-check --quiet --no-deps -r tests/template/requirements.txt
	$(PYTHON) -m pip install --disable-pip-version-check --quiet --no-deps -r tests/deploy/requirements.txt
	$(PYTHON) -m pip check --disable-pip-version-check
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

$(CHECKOV_STAMP): $(CHECKOV_REQUIREMENTS)
	@test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --disable-pip-version-check --quiet --no-deps -r $(CHECKOV_REQUIREMENTS)
	$(CHECKOV_VENV)/bin/python -m pip check --disable-pip-version-check
	@rm -f $(CHECKOV_VENV)/.installed-* && touch $@

# -rs prints why a check did not run (terraform validate, without the AWS provider).
test: venv $(CHECKOV_STAMP)
	$(PYTHON) -m pytest -q tests/localaws
	$(VENV)/bin/cfn-lint template.yaml
	$(PYTHON) -m pytest -q -rs tests/deploy tests/docs
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

$(LAMBDA_STAMP): $(LAMBDA_REQUIREMENTS)
	@test -x $(LAMBDA_VENV)/bin/python || python3 -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/python -m pip install --disable-pip-version-check --quiet --no-deps -r $(LAMBDA_REQUIREMENTS)
	$(LAMBDA_VENV)/bin/python -m pip check --disable-pip-version-check
	@rm -f $(LAMBDA_VENV)/.installed-* && touch $@

# cargo-lambda finds Zig through the venv's python on PATH.
package: $(LAMBDA_STAMP)
	@libdir="$$(rustc --print target-libdir --target $(RUST_TARGET))"; \
	if [ ! -d "$$libdir" ]; then \
	  echo "make package: the Rust standard library for $(RUST_TARGET) ($(ARCH)) is not installed." >&2; \
	  echo "  Add it with:  rustup target add $(RUST_TARGET)" >&2; \
	  echo "  or build for the other architecture:  make package ARCH=$(if $(filter arm64,$(ARCH)),x86_64,arm64)" >&2; \
	  exit 1; \
	fi
	PATH="$(abspath $(LAMBDA_VENV))/bin:$$PATH" cargo lambda build --release --locked \
	  --bin ecs-dns-reaper --target $(RUST_TARGET) --output-format zip
	@test -f $(PACKAGE)
	@echo "make package: $(PACKAGE) ($(ARCH), $$(wc -c < $(PACKAGE)) bytes)"
	@echo "  deploy it with Architecture=$(ARCH) (SAM) or architecture = \"$(ARCH)\" (Terraform)"

package-test: package venv
	PACKAGE_ARCH=$(ARCH) $(PYTHON) -m pytest -q tests/package

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings

clean-venv:
	rm -rf $(VENV) $(CHECKOV_VENV) $(LAMBDA_VENV)
