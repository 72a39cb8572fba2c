# emr-on-eks-operator: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
CRD_DIRS := deploy/crds deploy/helm/emr-on-eks-operator/crds
GENERATED := $(CRD_DIRS) docs/crd-reference.md

.PHONY: demo demo-down test test-log-reset deps testbed testbed-down crds crds-check fmt-check shellcheck clippy unit build \
        integration conformance emulator-tests lua-tests chart-tests image-tests image bench clean-bed

## demo: bring up the local bed, run the operator, apply a VirtualCluster and pi.py, watch it COMPLETE.
demo: deps build
	scripts/demo.sh

TEST_LOG := target/test-output.log

## test: everything CI runs (fmt, shellcheck, clippy, CRDs current, unit tests, integration tests on the bed).
test: deps fmt-check shellcheck clippy crds-check test-log-reset unit build testbed emulator-tests lua-tests chart-tests image-tests integration conformance
	@scripts/test-summary.sh $(TEST_LOG)

test-log-reset:
	@mkdir -p target && : > $(TEST_LOG)

## deps: install what a fresh machine lacks (apt packages, the control-plane build, the Python venv). Cached.
deps:
	tests/bed/install-deps.sh
	tests/chart/install-deps.sh

## demo-down: remove what make demo created and stop its operator.
demo-down: deps
	scripts/demo-down.sh

## testbed / testbed-down: start or stop the local bed (writes .testbed/env to `source`).
testbed: deps
	tests/bed/up.sh

testbed-down:
	tests/bed/down.sh

## crds: regenerate the CRDs from the Rust types (deploy/crds, the Helm chart's crds/, docs/crd-reference.md).
crds:
	$(CARGO) run -q -p emr-api --example write-crds -- $(CRD_DIRS)

## crds-check: fail when the committed CRDs differ from the types.
crds-check:
	$(CARGO) run -q -p emr-api --example write-crds -- $(CRD_DIRS) >/dev/null
	@git diff --exit-code -- $(GENERATED) || { echo "CRDs are stale: run 'make crds' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- $(GENERATED))" || { echo "CRDs are not committed: run 'make crds' and commit"; git status --porcelain -- $(GENERATED); exit 1; }

fmt-check:
	$(CARGO) fmt --all -- --check

## shellcheck: lint every shell script of the repository (scripts/lint-shell.sh).
shellcheck: deps
	scripts/lint-shell.sh

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace --lib --bins --examples 2>&1 | tee -a $(TEST_LOG)
	$(CARGO) test -p emr-operator --test lean_heap 2>&1 | tee -a $(TEST_LOG)

build:
	$(CARGO) build -p emr-on-eks-operator -p kubectl-emr

emulator-tests: testbed
	tests/bed/test-emulator.sh 2>&1 | tee -a $(TEST_LOG)

lua-tests:
	tests/argocd/run-health-tests.sh 2>&1 | tee -a $(TEST_LOG)

chart-tests: build testbed
	tests/chart/test-chart.sh 2>&1 | tee -a $(TEST_LOG)

## image: the operator's image, emr-on-eks-operator:<version>, as an OCI archive under target/image/
## (buildah, from scratch, reproducible; scripts/build-image.sh). Load it with
## `podman load -i ...` or `skopeo copy oci-archive:... docker://REGISTRY/...`.
image:
	tests/bed/install-deps.sh --apt-only
	$(CARGO) build --release --locked -p emr-on-eks-operator
	scripts/build-image.sh

# The image test builds an image from the debug binary `make build` made (the same script as
# `make image`; no second compile in CI) and runs it on the bed. IMAGE_TEST_BINARY=target/release/
# emr-on-eks-operator tests the release binary's image instead (after `make image`).
IMAGE_TEST_BINARY ?=
image-tests: build testbed
	tests/image/test-image.sh $(IMAGE_TEST_BINARY) 2>&1 | tee -a $(TEST_LOG)

## integration: the Rust integration tests in tests/ against the bed (each test in its own namespace).
integration: build testbed
	$(CARGO) test -p emr-operator-tests --tests -- --test-threads=4 --skip $(CONFORMANCE_TEST) 2>&1 | tee -a $(TEST_LOG)
	source .testbed/env && $(CARGO) test -p emr-aws --test emulator 2>&1 | tee -a $(TEST_LOG)

## conformance: every example in examples/ submitted on the bed, every AWS request it causes held to
## the strict emulator (botocore's models and the quotas); prints the violations figure.
CONFORMANCE_TEST := every_example_makes_only_requests_aws_would_take
conformance: build testbed
	$(CARGO) test -p emr-operator-tests --test strict_requests $(CONFORMANCE_TEST) -- --nocapture 2>&1 | tee -a $(TEST_LOG)

## bench: scale and fault benchmarks (prints results and writes bench/results/).
bench: deps
	scripts/bench.sh
