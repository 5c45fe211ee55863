# Two commands: `make` sets everything up and runs the conformance suite against the built-in
# reference; `make test` runs the project's own tests. Both install what is missing first.

VENV := .venv
STAMP := $(VENV)/.installed-stamp
PY := $(VENV)/bin/python

.PHONY: run test lint clean browser-flakes
.DEFAULT_GOAL := run

run: $(STAMP)
	$(VENV)/bin/clinic2fa run --target memory --report-dir reports

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

# The browser suite 10 times in a row; the first flake stops it (it names the run that failed).
browser-flakes:  # after `make` has set up .venv
	for i in 1 2 3 4 5 6 7 8 9 10; do \
	  $(VENV)/bin/pytest -q -p no:cacheprovider tests/test_browser_target*.py \
	    tests/test_web_browser.py || { echo "browser suite failed on run $$i"; exit 1; }; \
	done; echo "browser suite: 10 runs, no flake"

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
