# Everything bootstraps itself from a fresh machine with Python >= 3.11 and make:
# uv (pinned) lives in its own tool venv; the project venv (.venv) is synced from uv.lock.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced

.PHONY: install test lint format demo lock clean node-pack checkov checkov-lock iam-eval iam-eval-lock netpol netpol-lock promtool redis shellcheck

install: $(STAMP)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): $(UV) pyproject.toml uv.lock
	# Bytecode compiled at install: the SDKs are large, and PYTHONDONTWRITEBYTECODE (set on
	# some machines) would otherwise make every run recompile them.
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

# The Node.js policy-pack test needs the test pack's node_modules (never committed); without
# node or npm that test skips, with the reason.
NODE_PACK := tests/fixtures/node-policy-pack
NODE_PACK_STAMP := $(NODE_PACK)/node_modules/.synced

node-pack:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(NODE_PACK_STAMP); \
	else \
		echo "node/npm not on PATH: the Node.js policy-pack tests will be skipped"; \
	fi

$(NODE_PACK_STAMP): $(NODE_PACK)/package.json $(NODE_PACK)/package-lock.json
	cd $(NODE_PACK) && npm ci --no-audit --no-fund
	touch $@

# checkov lives in its own environment: its pins (packaging<24) conflict with pulumi's. The
# version is chosen once, in policies/checkov/requirements.in; the lock carries hashes. The
# stamp holds the lock's hash, as `blueprint check` expects when it bootstraps the same way.
CHECKOV_ENV := $(TOOLS)/checkov
CHECKOV_LOCK := policies/checkov/requirements.lock
CHECKOV_STAMP := $(CHECKOV_ENV)/.synced

checkov: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): $(UV) $(CHECKOV_LOCK)
	test -x $(CHECKOV_ENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(CHECKOV_ENV)
	$(UV) pip sync --quiet --compile-bytecode --require-hashes --python $(CHECKOV_ENV)/bin/python $(CHECKOV_LOCK)
	$(PYTHON) -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' $(CHECKOV_LOCK) > $@

checkov-lock: $(UV)
	$(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
		policies/checkov/requirements.in -o $(CHECKOV_LOCK)

# The offline IAM evaluator (principalmapper, AGPL-3.0) lives in its own environment too: the
# tests use it, the product never imports it (docs/adr/0024). Same lock, hashes and stamp as
# checkov; `blueprint.iam_eval.client` bootstraps it the same way on first use.
IAM_EVAL_ENV := $(TOOLS)/iam-eval
IAM_EVAL_LOCK := policies/iam-eval/requirements.lock
IAM_EVAL_STAMP := $(IAM_EVAL_ENV)/.synced

iam-eval: $(IAM_EVAL_STAMP)

$(IAM_EVAL_STAMP): $(UV) $(IAM_EVAL_LOCK)
	test -x $(IAM_EVAL_ENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(IAM_EVAL_ENV)
	$(UV) pip sync --quiet --compile-bytecode --require-hashes --python $(IAM_EVAL_ENV)/bin/python $(IAM_EVAL_LOCK)
	$(PYTHON) -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' $(IAM_EVAL_LOCK) > $@

iam-eval-lock: $(UV)
	$(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
		policies/iam-eval/requirements.in -o $(IAM_EVAL_LOCK)

# The offline NetworkPolicy analyzer (IBM np-guard's network-config-analyzer, Apache-2.0) lives
# in its own environment too: it pins its dependencies exactly (PyYAML, networkx, lxml), the
# tests use it, the product never imports it. Same lock, hashes and stamp as iam-eval;
# `blueprint.netpol.client` bootstraps it the same way on first use.
NETPOL_ENV := $(TOOLS)/netpol
NETPOL_LOCK := policies/netpol/requirements.lock
NETPOL_STAMP := $(NETPOL_ENV)/.synced

netpol: $(NETPOL_STAMP)

$(NETPOL_STAMP): $(UV) $(NETPOL_LOCK)
	test -x $(NETPOL_ENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(NETPOL_ENV)
	$(UV) pip sync --quiet --compile-bytecode --require-hashes --python $(NETPOL_ENV)/bin/python $(NETPOL_LOCK)
	$(PYTHON) -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' $(NETPOL_LOCK) > $@

netpol-lock: $(UV)
	$(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
		policies/netpol/requirements.in -o $(NETPOL_LOCK)

# promtool checks and unit-tests the generated SLO alert rules (tests/test_slo_prometheus.py);
# it comes from Debian's `prometheus` package (the machine and CI run as root). In CI a
# missing promtool fails those tests instead of skipping them.
promtool:
	command -v promtool >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus)

# redis-server evaluates the online store's ElastiCache RBAC access strings (blueprint.cacheacl,
# tests/test_cache_acl.py) with ACL DRYRUN: Debian's `redis-server` package (Redis 7.0), as for
# promtool. A missing redis-server fails those tests instead of skipping them.
redis:
	command -v redis-server >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server)

# shellcheck: actionlint runs it on every `run:` script of the workflows when it is on PATH
# (Debian's `shellcheck` package, as for promtool).
shellcheck:
	command -v shellcheck >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends shellcheck)

test: install node-pack checkov iam-eval netpol promtool redis
	$(BIN)/pytest

# The workflows: actionlint (syntax, expressions, shellcheck on scripts) and zizmor (security,
# default persona; offline: no GitHub API token needed, same verdict everywhere).
lint: install shellcheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/actionlint
	$(BIN)/zizmor --offline .github/workflows

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: install
	$(BIN)/blueprint up dev --local

lock: $(UV)
	$(UV) lock

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
