# Two commands: `make` sets everything up and runs the conformance suite against the built-in
# reference; `make test` runs the project's own tests. Both install what is missing first.

VENV := .venv
STAMP := $(VENV)/.installed-stamp
PY := $(VENV)/bin/python

.PHONY: run test lint clean
.DEFAULT_GOAL := run

run: $(STAMP)
	$(VENV)/bin/clinic2fa run --target memory --report-dir reports

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

$(STAMP): pyproject.toml
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium (for the browser target)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	$(PY) -m pip check
	touch $(STAMP)

clean:
	rm -rf $(VENV) reports .pytest_cache .hypothesis
