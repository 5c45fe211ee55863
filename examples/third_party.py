"""Run clinic2fa on the third-party example sites and compare every verdict with expected.toml.

    python examples/third_party.py [--app NAME ...] [--report-dir DIR]
    python examples/third_party.py --app NAME --compare REPORT.json   # compare only, no run

For each app (APPS below: data, not code branches): make its venv from its requirements.lock
when missing or stale, start its serve.py on a free loopback port (the "serving http://..."
line says which), check that `--target http://` gets exit 2 in one line (the site has no
/api/v1), run the browser target with the app's profile into reports/third-party/<app>/, stop
the site whatever happened, and compare every spec item with the app's expected.toml: one line
per difference (id, expected, got, the harness's message), a summary per app. A guide item's
entry there is the key's verdict of the step itself (`step`); its expected report verdict is
derived from that and the requirements serving it, by the report's rule (`derive`), and the
difference line names the requirement it came from.
Exit 0: no difference; 1: differences; 2: a set-up error (one line saying which).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinic2fa.spec import Spec
from clinic2fa.spec import load as load_spec

ROOT = Path(__file__).resolve().parents[1]
CLINIC2FA = [sys.executable, "-c", "import sys; from clinic2fa.scenarios.cli import main; "
             "sys.exit(main())"]
START_TIMEOUT = 180.0  # seconds for a site to print its address (the first start migrates)
RUN_TIMEOUT = 4 * 3600.0  # a full browser run on a loaded 2-core machine
SERVING = re.compile(r"serving (http://localhost:\d+)/")


@dataclass(frozen=True)
class App:
    """One example site: where it lives and how it starts (PORT is replaced by 0 = a free one)."""

    name: str
    directory: Path
    start: tuple[str, ...]
    profile: str = "clinic2fa.toml"
    expected: str = "expected.toml"


APPS = (
    App("django-allauth", ROOT / "examples" / "django-allauth",
        (".venv/bin/python", "serve.py", "PORT")),
    App("flask-security-too", ROOT / "examples" / "flask-security-too",
        (".venv/bin/python", "serve.py", "--port", "PORT", "--quiet")),
)


class SetupError(Exception):
    """Something before the comparison failed; its message is the one line the driver prints."""


# -- comparison ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """An item's expected report verdict; for a guide item, also the key's own judgement of
    the step (`step`) and the requirement the verdict was derived from, if not the step."""

    verdict: str
    step: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Difference:
    """One spec item whose verdict is not the expected one."""

    id: str
    expected: str
    got: str
    message: str
    derived: str = ""  # for a guide item whose expectation came from a requirement: why

    def line(self, app: str) -> str:
        return f"{app}: {self.id}: expected {self.expected}" + \
            (f" [{self.derived}]" if self.derived else "") + f", got {self.got}" + \
            (f" -- {self.message}" if self.message else "")


def _verdict(entry: dict[str, Any], field: str = "verdict", kind: str = "verdict_kind") -> str:
    """`conforms`, `not_verified`, `does_not_conform (fail)`: a verdict with its kind (a
    report's `verdict_kind`; a key's `kind`. A report's guide item has a `kind` of its own:
    step, outcome or troubleshooting, which is not the verdict's)."""
    verdict = str(entry.get(field))
    return f"{verdict} ({entry.get(kind)})" if verdict == "does_not_conform" else verdict


def _expected(entry: dict[str, Any], field: str = "verdict") -> str:
    """A key's verdict with its kind, from an expected.toml entry."""
    return _verdict(entry, field, "kind")


FAIL, ABSENT = "does_not_conform (fail)", "does_not_conform (feature_absent)"


def derive(step: str | None, served_by: list[tuple[str, str]],
           neutral: frozenset[str] = frozenset()) -> tuple[str, str | None]:
    """A guide item's report verdict from the key's verdict of the step (its own scenarios)
    and the expected verdicts of the requirements that serve it (in spec order), by the
    report's rule (spec/report-format.md "Verdicts", scenarios/core/verdicts.py): its
    scenarios are the step's and every serving requirement's together, so a failure anywhere
    fails it (the step's own first); else a missing feature; else anything not verified (a
    check that could not run here is the item's too) leaves it not verified, partly where
    something conforms; else one that conforms makes it conform. `neutral`: requirements not
    verified only because a feature is absent (the key's `absent`), which leave nothing unseen.
    Returns (verdict, the requirement it came from, or None: the step)."""
    parts = ([(None, step)] if step is not None else []) + list(served_by)
    for wanted in (FAIL, ABSENT):
        for source, verdict in parts:
            if verdict == wanted:
                return verdict, source
    unseen = [(source, verdict) for source, verdict in parts
              if verdict == "not_verified" and source not in neutral]
    if unseen:
        return unseen[0][1], unseen[0][0]
    for source, verdict in parts:
        if verdict == "conforms":
            return "conforms", source
    if step is not None and step != "gap":
        return step, None
    return next((v for _, v in served_by if v != "gap"), "gap"), \
        next((s for s, v in served_by if v != "gap"), None)


def expectations(items: list[dict[str, Any]], guide: Spec | None = None,
                 ) -> dict[str, Expected]:
    """Item id -> Expected, a guide item's derived from its `step` (hand-judged: the step
    works) and the requirement entries by `derive`; a requirement's is its `verdict`."""
    guide = guide or load_spec()
    guide_ids = {item.id for item in guide.guide_items}
    found = {str(item["id"]): item for item in items}
    plain = {i: _expected(item) for i, item in found.items() if i not in guide_ids}
    neutral = frozenset(i for i, item in found.items() if i in plain and item.get("absent"))
    expected = {i: Expected(verdict) for i, verdict in plain.items()}
    for item_id, item in found.items():
        if item_id not in guide_ids:
            continue
        step = _expected(item, "step" if "step" in item else "verdict")
        served = [(r.id, plain[r.id]) for r in guide.requirements_serving(item_id)
                  if r.id in plain]
        verdict, source = derive(step, served, neutral)
        expected[item_id] = Expected(verdict, step, source)
    return expected


def expected_verdicts(path: Path) -> dict[str, Expected]:
    """Item id -> Expected from an expected.toml of [[item]] entries (guide items derived)."""
    with path.open("rb") as handle:
        items = tomllib.load(handle).get("item", [])
    return expectations(items)


def _message(item: dict[str, Any], scenarios: dict[str, dict[str, Any]]) -> str:
    """What the harness said about an item: its most telling scenario's outcome and message."""
    rank = ("fail", "error", "feature_absent", "waived_fail", "unsupported", "not_applicable",
            "inconclusive", "config_exhausted", "not_run", "pass")
    rows = sorted(item.get("scenarios", []), key=lambda row: rank.index(row["outcome"])
                  if row["outcome"] in rank else len(rank))
    if not rows:
        return "no scenario verifies it"
    row = rows[0]
    said = scenarios.get(row["id"], {}).get("message") or ""
    said = " ".join(str(said).split())
    text = f"{row['id']} {row['outcome']}" + (f": {said}" if said else "")
    return text if len(text) <= 240 else text[:237] + "..."


def compare(report: dict[str, Any],
            expected: Mapping[str, str | Expected]) -> list[Difference]:
    """Every spec item whose reported verdict (and kind) differs from the expected one."""
    scenarios = {row["id"]: row for row in report.get("scenarios", [])}
    items = {row["id"]: row for key in ("guide_items", "requirements")
             for row in report.get(key, [])}
    differences = []
    for item_id, wanted in expected.items():
        want = wanted if isinstance(wanted, Expected) else Expected(wanted)
        derived = "" if want.source is None else \
            f"derived from {want.source}; the step itself: {want.step}"
        item = items.get(item_id)
        if item is None:
            differences.append(Difference(item_id, want.verdict, "missing", "not in the report",
                                          derived))
        elif (got := _verdict(item)) != want.verdict:
            differences.append(Difference(item_id, want.verdict, got,
                                          _message(item, scenarios), derived))
    differences += [Difference(item_id, "missing", _verdict(item), "not in expected.toml")
                    for item_id, item in items.items() if item_id not in expected]
    return differences


def summary(app: str, report: dict[str, Any], expected: Mapping[str, str | Expected],
            differences: list[Difference]) -> str:
    """One line: how many items agree, and the reported verdict counts."""
    items = [row for key in ("guide_items", "requirements") for row in report.get(key, [])]
    counts = Counter(_verdict(row) for row in items)
    shown = ", ".join(f"{verdict} {n}" for verdict, n in sorted(counts.items()))
    return (f"{app}: {len(expected) - sum(d.id in expected for d in differences)} of "
            f"{len(expected)} items as expected, {len(differences)} differ (got: {shown})")


def compare_report(app: App, report_path: Path) -> int:
    """Print the differences between a report.json and the app's expected.toml; 0 or 1."""
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SetupError(f"cannot read {report_path}: {exc}") from None
    expected = expected_verdicts(app.directory / app.expected)
    differences = compare(report, expected)
    for difference in differences:
        print(difference.line(app.name), flush=True)
    print(summary(app.name, report, expected, differences), flush=True)
    return 1 if differences else 0


# -- set-up: venv, site, runs --------------------------------------------------------------------


def ensure_venv(app: App) -> None:
    """The app's own venv from its requirements.lock, made again when the lock has changed."""
    lock = app.directory / "requirements.lock"
    venv = app.directory / ".venv"
    stamp = venv / ".lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if (venv / "bin" / "python").exists() and stamp.exists() and \
            stamp.read_text().strip() == digest:
        return
    print(f"{app.name}: making its venv from requirements.lock", flush=True)
    for args in ([sys.executable, "-m", "venv", "--clear", str(venv)],
                 [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                  "--disable-pip-version-check", "-r", str(lock)]):
        done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            said = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise SetupError(f"{app.name}: {' '.join(args[:3])} failed: exit {done.returncode}"
                             + (f": {said[-1]}" if said else ""))
    stamp.write_text(digest + "\n")


@contextlib.contextmanager
def running_site(app: App, timeout: float = START_TIMEOUT) -> Iterator[str]:
    """The site started on a free port; its base URL. Stopped afterwards, whatever happens."""
    args = [a.replace("PORT", "0") for a in app.start]
    process = subprocess.Popen(args, cwd=app.directory, stdout=subprocess.PIPE,  # noqa: S603
                               stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read, args=(process, lines), daemon=True)
    reader.start()
    try:
        yield _address(app, process, lines, timeout)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        if process.stdout:
            process.stdout.close()


def _read(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    """Every line the site prints, into the queue (so a full pipe never blocks it); None at EOF."""
    assert process.stdout is not None
    with contextlib.suppress(ValueError, OSError):
        for line in process.stdout:
            lines.put(line)
    lines.put(None)


def _address(app: App, process: subprocess.Popen[str], lines: queue.Queue[str | None],
             timeout: float) -> str:
    """The URL of the site's "serving http://..." line, waited for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = ""
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
            break
        if found := SERVING.search(line):
            return found.group(1)
        last = line.strip() or last
    why = f"exit {process.poll()}" if process.poll() is not None else f"within {timeout:.0f} s"
    raise SetupError(f"{app.name}: {' '.join(app.start)} printed no 'serving http://' line "
                     f"({why})" + (f": {last}" if last else ""))


def check_http_refused(app: App, url: str, report_dir: Path) -> str | None:
    """`--target http://` on a site without /api/v1: exit 2 in one line. None, or what differs."""
    done = subprocess.run([*CLINIC2FA, "run", "--target", url, "--report-dir",  # noqa: S603
                           str(report_dir / "http")], capture_output=True, text=True,
                          check=False, timeout=300, cwd=ROOT)
    lines = [s for s in (done.stdout + done.stderr).splitlines() if s.strip()]
    if done.returncode == 2 and len(lines) == 1:
        return None
    return (f"{app.name}: --target {url}: expected exit 2 with one line, got exit "
            f"{done.returncode} with {len(lines)} lines" + (f": {lines[0]}" if lines else ""))


def run_browser(app: App, url: str, report_dir: Path, extra: list[str]) -> Path:
    """The suite through the site's pages with its profile; the report.json it wrote."""
    args = [*CLINIC2FA, "run", "--target", f"browser+{url}", "--config",
            str(app.directory / app.profile), "--report-dir", str(report_dir), "-q", *extra]
    started = time.monotonic()
    done = subprocess.run(args, check=False, timeout=RUN_TIMEOUT, cwd=ROOT)  # noqa: S603
    print(f"{app.name}: browser run exit {done.returncode} in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    report = report_dir / "report.json"
    if done.returncode not in (0, 1) or not report.exists():
        raise SetupError(f"{app.name}: clinic2fa run exited {done.returncode}"
                         + ("" if report.exists() else ", no report.json"))
    return report


def check_app(app: App, report_root: Path, extra: list[str]) -> int:
    """One app from its venv to the comparison: 0 as expected, 1 differences, 2 set-up error."""
    try:
        for needed in (app.profile, app.expected, "requirements.lock"):
            if not (app.directory / needed).exists():
                raise SetupError(f"{app.name}: no {needed} in {app.directory} (not set up yet)")
        ensure_venv(app)
        report_dir = report_root / app.name
        with running_site(app) as url:
            print(f"{app.name}: site at {url}", flush=True)
            refused = check_http_refused(app, url, report_dir)
            report = run_browser(app, url, report_dir, extra)
        status = compare_report(app, report)
        if refused:
            print(refused, flush=True)
            status = 1
        return status
    except SetupError as exc:
        print(f"set-up error: {exc}", flush=True)
        return 2


def main(argv: list[str] | None = None, apps: tuple[App, ...] = APPS) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", action="append", choices=[a.name for a in apps],
                        help="only this app (repeatable; default: every app)")
    parser.add_argument("--report-dir", type=Path, default=ROOT / "reports" / "third-party")
    parser.add_argument("--compare", type=Path, metavar="REPORT",
                        help="compare this report.json with the app's expected.toml, run nothing")
    parser.add_argument("extra", nargs="*", help="more `clinic2fa run` options, after --")
    args = parser.parse_args(argv)
    chosen = [a for a in apps if not args.app or a.name in args.app]
    if args.compare:
        if len(chosen) != 1:
            parser.error("--compare needs exactly one --app")
        try:
            return compare_report(chosen[0], args.compare)
        except SetupError as exc:
            print(f"set-up error: {exc}")
            return 2
    statuses = [check_app(app, args.report_dir.resolve(), args.extra) for app in chosen]
    return 2 if 2 in statuses else max(statuses, default=0)


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # SIGTERM too runs the `finally`s: the site is stopped


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stopped)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: the site was stopped", flush=True)
        sys.exit(130)
