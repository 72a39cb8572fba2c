# emr-on-eks-operator: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
CRD_DIRS := deploy/crds deploy/helm/emr-on-eks-operator/crds

.PHONY: demo test deps testbed testbed-down crds crds-check fmt-check clippy unit build \
        integration emulator-tests lua-tests chart-tests bench clean-bed

## demo: bring up the local bed, run the operator, apply a VirtualCluster and pi.py, watch it COMPLETE.
demo: deps build
	scripts/demo.sh

## test: everything CI runs (fmt, clippy, CRDs current, unit tests, integration tests on the bed).
test: deps fmt-check clippy crds-check unit build testbed emulator-tests lua-tests chart-tests integration
	@echo "make test: all green"

## deps: install what a fresh machine lacks (apt packages, the control-plane build, the Python venv). Cached.
deps:
	tests/bed/install-deps.sh

## testbed / testbed-down: start or stop the local bed (writes .testbed/env to `source`).
testbed:
	tests/bed/up.sh

testbed-down:
	tests/bed/down.sh

## crds: regenerate the CRDs from the Rust types (deploy/crds and the Helm chart's crds/).
crds:
	$(CARGO) run -q -p emr-api --example write-crds -- $(CRD_DIRS)

## crds-check: fail when the committed CRDs differ from the types.
crds-check:
	$(CARGO) run -q -p emr-api --example write-crds -- $(CRD_DIRS) >/dev/null
	@git diff --exit-code -- $(CRD_DIRS) || { echo "CRDs are stale: run 'make crds' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- $(CRD_DIRS))" || { echo "CRDs are not committed: run 'make crds' and commit"; git status --porcelain -- $(CRD_DIRS); exit 1; }

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace --lib --bins --examples

build:
	$(CARGO) build -p emr-on-eks-operator

emulator-tests: testbed
	tests/bed/test-emulator.sh -q

lua-tests:
	tests/argocd/run-health-tests.sh

chart-tests: testbed
	tests/chart/test-chart.sh

## integration: the Rust integration tests in tests/ against the bed (each test in its own namespace).
integration: build testbed
	$(CARGO) test -p emr-operator-tests --tests -- --test-threads=4
	$(CARGO) test -p emr-aws --test emulator

## bench: scale and fault benchmarks (prints results and writes bench/results/).
bench: deps build testbed
	scripts/bench.sh
