# Every target sets itself up: a fresh machine needs only python3 with venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test totp i18n bench lint clean smoke faults security

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m kiosk.i18n_build
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

run: $(STAMP)
	$(BIN)/python -m kiosk --demo

smoke: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m kiosk --demo --smoke

test: $(TEST_STAMP)
	$(BIN)/python -m kiosk.i18n_build
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

faults: $(TEST_STAMP)
	$(BIN)/python -m tests.campaign --payments $(or $(N),500) --seed $(or $(SEED),7)

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

totp: $(STAMP)
	$(BIN)/python -m kiosk totp --demo

i18n: $(TEST_STAMP)
	$(BIN)/pybabel extract -F i18n/babel.cfg -k N_ -k ngettext:1,2 -o i18n/kiosk.pot --project=health-connector-kiosk --no-location --sort-output .
	$(BIN)/pybabel update -i i18n/kiosk.pot -d i18n -D kiosk --no-fuzzy-matching
	$(BIN)/python -m kiosk.i18n_build

# Security checks: bandit on the code, a secrets scan of every tracked file against the
# reviewed baseline (exit 3 only means line numbers moved), and pip-audit where the network
# lets it reach the vulnerability database (it reports what it could not check).
security: $(TEST_STAMP)
	$(BIN)/bandit -q -r kiosk sync ui -ll
	mkdir -p build && cp .secrets.baseline build/secrets.baseline
	$(BIN)/detect-secrets-hook --baseline build/secrets.baseline \
		$$(git ls-files -- . ':!.secrets.baseline'); \
		rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 3 ]
	$(BIN)/pip-audit --progress-spinner off -l

lint: $(TEST_STAMP)
	$(BIN)/ruff check kiosk ui sync tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build
