# Two commands: `make` sets everything up and runs the conformance suite against the built-in
# reference; `make test` runs the project's own tests. Both install what is missing first, the
# exact tested set of requirements.lock (pyproject.toml itself has ranges, for users' installs).

VENV := .venv
STAMP := $(VENV)/.installed-stamp
PY := $(VENV)/bin/python
LOCK := requirements.lock

.PHONY: run test lint clean mutation browser-flakes wheel-check lock check-reports \
  example-python-target third-party
.DEFAULT_GOAL := run

run: $(STAMP)
	$(VENV)/bin/clinic2fa run --target memory --report-dir reports

# Every test, on every core (pytest-xdist; a worker takes the next test as it frees up). The
# fast part alone: .venv/bin/pytest -m "not slow and not browser" -n auto
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest -n auto --dist worksteal

# The worked example of --target python:MODULE:FACTORY: ToothDesk, a small backend of its own on
# the system clock (the harness moves it with freezegun). It conforms, clock and race scenarios
# included (exit 0); tests/test_python_target.py holds it to that.
EXAMPLE_REPORTS ?= reports/python-target
example-python-target: $(STAMP)
	cd examples/python-target && ../../$(VENV)/bin/clinic2fa run \
	  --target python:clinic2fa_target:make_target --report-dir ../../$(EXAMPLE_REPORTS)

# The two third-party example sites (examples/django-allauth, examples/flask-security-too) on
# unmodified libraries, each in its own venv, through their own pages with their profiles; every
# spec item's verdict against the app's expected.toml. Exit 0 only when none differs. One app:
# make third-party APP=django-allauth. Reports in reports/third-party/<app>/.
third-party: $(STAMP)
	$(PY) examples/third_party.py $(if $(APP),--app $(APP))

# The reports the commands write, as CI sees them, against spec/report.schema.json (the test
# suite checks every report it writes too): the suite on the reference and on the example.
check-reports: $(STAMP)
	rm -rf reports/ci
	$(VENV)/bin/clinic2fa run --target memory --report-dir reports/ci/memory >/dev/null
	$(MAKE) --no-print-directory example-python-target EXAMPLE_REPORTS=reports/ci/python-target \
	  >/dev/null
	$(PY) tests/report_validation.py reports/ci

# Mutation analysis of the reference (mutation/run.py, cosmic-ray): the conformance suite as the
# oracle, on memory for the rule modules and on http for the web layer's authorization. Writes
# reports/mutation/report.txt and report.json. MUTANTS=N samples N mutants (SEED=S draws them).
mutation: $(STAMP)
	$(PY) mutation/run.py $(if $(MUTANTS),--mutants $(MUTANTS)) $(if $(SEED),--seed $(SEED)) \
	  $(if $(WORKERS),--workers $(WORKERS))

# The wheel as a user gets it: its contents, and installed in fresh venvs (beside the user's
# own spec/ and simulator/ packages, and beside pytest 8) it runs. About two minutes.
wheel-check: $(STAMP)
	$(PY) tests/packaging/check_wheel.py

# The browser suite 10 times in a row; the first flake stops it (it names the run that failed).
browser-flakes:  # after `make` has set up .venv
	for i in 1 2 3 4 5 6 7 8 9 10; do \
	  $(VENV)/bin/pytest -q -p no:cacheprovider tests/test_browser_target*.py \
	    tests/test_web_browser.py || { echo "browser suite failed on run $$i"; exit 1; }; \
	done; echo "browser suite: 10 runs, no flake"

$(STAMP): pyproject.toml $(LOCK)
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium (for the browser target)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c $(LOCK) -e '.[dev,browser,load]'
	$(PY) -m pip check
	touch $(STAMP)

# `make lock`: requirements.lock again, after a change to pyproject.toml's dependencies (then run
# the whole suite before committing). Needs no working install: a new range may clash with the
# old lock, which is what this fixes.
define LOCK_HEADER
# requirements.lock: the exact tested set (toolchain.md's pins and all they bring in) that `make`
# and .ci/run install, as constraints: pip install -c requirements.lock -e '.[dev,browser,load]'.
# pyproject.toml keeps ranges for users; this file is for the project's own runs and CI.
# Regenerate with `make lock` (uv from the dev extra; resolved for Python 3.11 on Linux), i.e.
#   uv pip compile --no-header pyproject.toml --all-extras --python-version 3.11 -o requirements.lock
# which keeps every pin the ranges still allow; move one: make lock UPGRADE="--upgrade-package X".
endef
export LOCK_HEADER

lock:
	test -x $(PY) || python3 -m venv $(VENV)
	test -x $(VENV)/bin/uv || $(PY) -m pip install -q --disable-pip-version-check -c $(LOCK) uv
	$(VENV)/bin/uv pip compile --quiet --no-header pyproject.toml --all-extras \
	  --python-version 3.11 $(UPGRADE) -o $(LOCK)
	{ echo "$$LOCK_HEADER"; cat $(LOCK); } > $(LOCK).tmp && mv $(LOCK).tmp $(LOCK)

clean:
	rm -rf $(VENV) reports .pytest_cache .hypothesis build
