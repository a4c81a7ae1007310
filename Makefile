# efs-dr: the two commands a newcomer runs are `make demo` and `make test`.
# Each installs what a fresh machine lacks, by itself.

SHELL  := /bin/bash
CARGO  ?= cargo
PYTHON ?= python3

.PHONY: test python-deps build

## test: every test (Rust unit + integration tests, and the boto3 wire check)
test: python-deps build
	EFS_DR_BIN=target/debug/efs-dr $(PYTHON) tests/python/test_boto3_lifecycle.py
	$(CARGO) test --locked

build:
	$(CARGO) build --locked

# boto3/botocore >= 1.42.7 speak Smithy RPC v2 CBOR to CloudWatch, as current AWS SDKs do.
python-deps:
	@$(PYTHON) -c 'import botocore, sys; v = tuple(int(x) for x in botocore.__version__.split(".")[:3]); sys.exit(0 if v >= (1, 42, 7) else 1)' 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet 'boto3>=1.42.7' 'botocore>=1.42.7'
