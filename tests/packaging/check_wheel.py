"""`make wheel-check`: the wheel as a user gets it installs and runs beside the user's own tools.

(a) builds the wheel from the checkout and checks what is in it: only clinic2fa/ and its
    dist-info at the top, every module and every data file of spec/, simulator/, scenarios/;
(b) installs it in a fresh venv (requirements.lock as constraints) and, from a folder holding
    the user's own spec/ and simulator/ packages (which break if imported), runs `clinic2fa spec`,
    `clinic2fa run --target memory` and the pytest plugin; without the extras, the browser
    target and `load` say in one line which extra to install; no pytest plugin comes along
    but the two passive ones of hypothesis and anyio;
(c) in fresh venvs that have an older pytest first, the same wheel installs without moving
    that pytest, and the run and the plugin work on it;
(d) resolves the wheel with no lock at all (pip's dry run): py_webauthn 3, not 2.7.1.

Run by .ci/run after `make test`. Needs the package index only as pip does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
OLD_PYTESTS = ("8.0.0", "8.3.5")  # the oldest pytest we support, and the last before 8.4
# pytest11 entry points the runtime dependencies bring: hypothesis (explore) and anyio (the web
# app). Both act only on tests that ask for them (@given, the anyio marker).
PASSIVE_PLUGINS = {"hypothesispytest", "anyio"}
PACKAGES = {"spec": "clinic2fa/spec", "simulator": "clinic2fa/simulator",
            "scenarios": "clinic2fa/scenarios"}
DATA = ("spec/*.toml", "spec/*.json", "spec/*.md", "simulator/web/templates/*",
        "simulator/web/static/*")
# A user's own packages with our old top-level names: importing one instead of ours fails loudly.
DECOY = 'raise ImportError("the user\'s own {name}/ was imported instead of clinic2fa\'s")\n'

passed: list[str] = []
failed: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    """One named result; a failure says why and the run goes on to the end."""
    (passed if ok else failed).append(name)
    print(f"  {'ok  ' if ok else 'FAIL'} {name}" + (f"\n       {detail}" if detail and not ok
                                                   else ""), flush=True)
    return ok


def sh(args: Sequence[str | Path], cwd: Path | None = None,
       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,  # noqa: S603
                          text=True, check=False)


def tail(done: subprocess.CompletedProcess[str], lines: int = 8) -> str:
    text = [ln for ln in (done.stdout + done.stderr).splitlines()
            if ln.strip() and "is ignored: it is neither" not in ln]  # this machine's pip config
    return "\n       ".join(text[-lines:])


# -- (a) the wheel ------------------------------------------------------------------------------


def build_wheel(work: Path) -> Path:
    """From a copy of the checkout: setuptools' build/lib in the tree could add stale files."""
    source = work / "source"
    anywhere = shutil.ignore_patterns("*.egg-info", "__pycache__", ".*_cache", ".hypothesis")

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = {".git", ".venv", "build", "reports"} if Path(folder) == ROOT else set()
        return set(anywhere(folder, names)) | (top & set(names))

    shutil.copytree(ROOT, source, ignore=ignore)
    out = work / "dist"
    done = sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, source])
    wheels = sorted(out.glob("clinic2fa-*.whl"))
    if done.returncode or not wheels:
        raise SystemExit(f"wheel-check: pip wheel failed:\n{tail(done, 20)}")
    return wheels[0]


def expected_files() -> set[str]:
    """Every module and data file the checkout's package folders hold, as wheel paths."""
    names = set()
    for folder, target in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                names.add(f"{target}/{path.relative_to(ROOT / folder).as_posix()}")
    for pattern in DATA:
        folder, _, rest = pattern.partition("/")
        for path in (ROOT / folder).glob(rest):
            if path.is_file():
                names.add(f"{PACKAGES[folder]}/{path.relative_to(ROOT / folder).as_posix()}")
    return names


def check_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next((archive.read(n).decode() for n in names
                         if n.endswith(".dist-info/METADATA")), "")
    print(f"wheel {wheel.name}: {len(names)} files")
    tops = sorted({n.split("/", 1)[0] for n in names})
    for top in tops:
        print(f"  {top}/  ({sum(1 for n in names if n.startswith(top + '/'))} files)")
    dist_info = [t for t in tops if t.endswith(".dist-info")]
    check("only clinic2fa/ and its dist-info at the top of the wheel",
          len(dist_info) == 1 and set(tops) == {"clinic2fa", *dist_info}, f"found {tops}")
    missing = sorted(expected_files() - set(names))
    check("every module and data file (spec *.toml *.json *.md, web templates and static)",
          not missing and any(n.endswith("guide.toml") for n in names),
          f"missing: {', '.join(missing[:8])}")
    requires = [ln.split(":", 1)[1].strip() for ln in metadata.splitlines()
                if ln.startswith("Requires-Dist:")]
    pinned = [r for r in requires if "==" in r.split(";", 1)[0]]
    check("Requires-Dist has ranges, no == pins", bool(requires) and not pinned,
          f"pinned: {pinned}")
    plugins = ("locust", "pytest-playwright", "playwright", "schemathesis")
    runtime = [r for r in requires if "extra ==" not in r
               and re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0].lower() in plugins]
    check("locust, playwright, pytest-playwright only in extras", not runtime,
          f"runtime: {runtime}")


# -- fresh venvs --------------------------------------------------------------------------------


def fresh_venv(where: Path) -> Path:
    """A new venv from the base interpreter (not this one's packages); this pip works on it."""
    venv.EnvBuilder(with_pip=False, clear=True).create(where)
    return where / "bin"


def pip(bin_dir: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """This venv's pip, run on the fresh one (`--python`: no ensurepip, seconds saved)."""
    return sh([sys.executable, "-m", "pip", "--python", bin_dir / "python",
               "--disable-pip-version-check", *args])


def pip_install(bin_dir: Path, *args: str | Path,
                offline: Path | None = None) -> subprocess.CompletedProcess[str]:
    """pip install; with `offline`, only from that wheelhouse (no index)."""
    where = ["--no-index", "--find-links", offline] if offline else []
    return pip(bin_dir, "install", "-q", *where, *args)


def wheelhouse(wheel: Path) -> Path:
    """The wheel's dependencies at the lock's versions, and the old pytests, fetched once.

    One pass over the index (pip's cache answers most of it); the fresh venvs then install
    with no index. Kept in build/, named by the lock's hash.
    """
    digest = hashlib.sha256(LOCK.read_bytes() + " ".join(OLD_PYTESTS).encode()).hexdigest()
    house = ROOT / "build" / f"wheelhouse-{digest[:12]}"
    done = sh([sys.executable, "-m", "pip", "wheel", "-q", "-w", house, "-c", LOCK, wheel])
    for version in OLD_PYTESTS:
        if done.returncode == 0:
            done = sh([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", house,
                       f"pytest=={version}"])
    if done.returncode:
        raise SystemExit(f"wheel-check: could not fetch the dependencies:\n{tail(done, 20)}")
    return house


def user_folder(parent: Path) -> Path:
    """A user's project: their own spec/ and simulator/ packages, and a test of their own."""
    folder = parent / "user-project"
    for name in ("spec", "simulator"):
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "__init__.py").write_text(DECOY.format(name=name), encoding="utf-8")
    (folder / "test_own.py").write_text("def test_own():\n    assert True\n", encoding="utf-8")
    return folder


def run_harness(bin_dir: Path, folder: Path, label: str) -> None:
    """`clinic2fa run` and the plugin, from the user's folder: both exit 0 (CONFORMS)."""
    reports = folder / f"reports-{label}"
    done = sh([bin_dir / "clinic2fa", "run", "--target", "memory", "--report-dir", reports],
              cwd=folder)
    check(f"{label}: clinic2fa run --target memory exits 0",
          done.returncode == 0 and (reports / "report.json").is_file(),
          f"exit {done.returncode}: {tail(done)}")
    done = sh([bin_dir / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder)
    check(f"{label}: the user's own pytest run passes, nothing of ours in it",
          done.returncode == 0 and "1 passed" in done.stdout, f"exit {done.returncode}: "
          f"{tail(done)}")
    plugin_reports = folder / f"plugin-reports-{label}"
    done = sh([bin_dir / "python", "-m", "pytest", "-q", "-p", "clinic2fa.scenarios.running.plugin",
               "--c2f-target", "memory", "--c2f-report-dir", plugin_reports], cwd=folder)
    check(f"{label}: python -m pytest -p clinic2fa.scenarios.running.plugin exits 0",
          done.returncode == 0 and (plugin_reports / "report.json").is_file(),
          f"exit {done.returncode}: {tail(done)}")


def one_line_usage_error(bin_dir: Path, folder: Path, args: list[str], extra: str) -> None:
    done = sh([bin_dir / "clinic2fa", *args], cwd=folder)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    check(f"without the extra, `clinic2fa {args[0]} {args[2]}` says pip install "
          f"'clinic2fa[{extra}]' and exits 2",
          done.returncode == 2 and len(lines) == 1 and f"'clinic2fa[{extra}]'" in lines[0],
          f"exit {done.returncode}: {tail(done)}")


def installed_plugins(bin_dir: Path) -> set[str]:
    done = sh([bin_dir / "python", "-c", "from importlib.metadata import entry_points; "
               "print('\\n'.join(e.name for e in entry_points(group='pytest11')))"])
    return set(done.stdout.split())


def plain_install(wheel: Path, work: Path, house: Path) -> None:
    """(b): the wheel with the lock's versions, from a user's folder."""
    print("(b) fresh venv, the wheel with requirements.lock as constraints")
    bin_dir = fresh_venv(work / "venv-plain")
    done = pip_install(bin_dir, "-c", LOCK, wheel, offline=house)
    if not check("pip install -c requirements.lock <wheel>", done.returncode == 0, tail(done)):
        return
    done = pip(bin_dir, "check")
    check("pip check is clean", done.returncode == 0, tail(done))
    extras = sorted(installed_plugins(bin_dir) - PASSIVE_PLUGINS)
    check("no pytest plugin comes along but hypothesis' and anyio's", not extras,
          f"also autoloaded into every pytest run: {extras}")
    folder = user_folder(work)
    done = sh([bin_dir / "clinic2fa", "spec"], cwd=folder)
    check("clinic2fa spec exits 0 beside the user's spec/ and simulator/",
          done.returncode == 0 and "STEP-" in done.stdout, f"exit {done.returncode}: {tail(done)}")
    run_harness(bin_dir, folder, "pytest from the lock")
    one_line_usage_error(bin_dir, folder, ["run", "--target", "browser+http://localhost:9"],
                         "browser")
    one_line_usage_error(bin_dir, folder, ["load", "--target", "http://127.0.0.1:9", "--users",
                                           "1", "--duration", "1"], "load")


def beside_old_pytest(wheel: Path, work: Path, house: Path, version: str) -> None:
    """(c): a user's older pytest stays, and the harness works on it."""
    print(f"(c) fresh venv with pytest=={version} installed first")
    bin_dir = fresh_venv(work / f"venv-pytest-{version}")
    unpinned = work / "lock-without-pytest.txt"
    unpinned.write_text("".join(ln for ln in LOCK.read_text(encoding="utf-8").splitlines(True)
                                if not ln.startswith("pytest==")), encoding="utf-8")
    done = pip_install(bin_dir, "-c", unpinned, f"pytest=={version}", offline=house)
    if not check(f"pip install pytest=={version}", done.returncode == 0, tail(done)):
        return
    done = pip_install(bin_dir, "-c", unpinned, wheel, offline=house)
    if done.returncode:  # pip may refuse, in its own words; never a harness crash
        check(f"pip installs the wheel beside pytest {version} (or refuses itself)",
              "ERROR" in done.stderr and "Traceback" not in done.stderr, tail(done))
        return
    kept = sh([bin_dir / "python", "-c", "import pytest; print(pytest.__version__)"])
    check(f"the user's pytest {version} was not moved", kept.stdout.strip() == version,
          f"pytest is now {kept.stdout.strip()}")
    run_harness(bin_dir, user_folder(work), f"pytest {version}")


def unpinned_resolve(wheel: Path, work: Path) -> None:
    """(d): what a plain `pip install clinic2fa` would pick today, from the ranges alone."""
    print("(d) the ranges alone resolve to a working set (pip install --dry-run, no lock)")
    bin_dir = work / "venv-plain" / "bin"
    report = work / "resolve.json"
    done = pip_install(bin_dir, "--dry-run", "--ignore-installed", "--report", report, wheel)
    if not check("pip resolves the wheel with no constraints", done.returncode == 0, tail(done)):
        return
    picked = {item["metadata"]["name"].lower(): item["metadata"]["version"]
              for item in json.loads(report.read_text(encoding="utf-8"))["install"]}
    knot = {k: picked.get(k, "none") for k in ("webauthn", "soft-webauthn", "fido2",
                                               "cryptography")}
    print(f"       {', '.join(f'{k} {v}' for k, v in knot.items())}")
    check("webauthn 3.x with soft-webauthn 0.1.3 and fido2 0.9 (not webauthn 2.7.1)",
          knot["webauthn"].startswith("3.") and knot["soft-webauthn"] == "0.1.3"
          and knot["fido2"].startswith("0.9."), str(knot))
    stray = sorted({"locust", "pytest-playwright", "playwright"} & set(picked))
    check("no locust or playwright without the extras", not stray, str(stray))


def main() -> int:
    started = time.monotonic()
    build = ROOT / "build" / "wheel-check"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    print("(a) the wheel from this checkout")
    wheel = build_wheel(build)
    check_contents(wheel)
    house = wheelhouse(wheel)
    print(f"    ({time.monotonic() - started:.0f} s: wheel built, dependencies fetched)")
    with tempfile.TemporaryDirectory(prefix="clinic2fa-wheel-check-") as tmp:
        work = Path(tmp)
        os.environ.pop("VIRTUAL_ENV", None)
        plain_install(wheel, work, house)
        for version in OLD_PYTESTS:
            beside_old_pytest(wheel, work, house, version)
        print(f"    ({time.monotonic() - started:.0f} s)")
        unpinned_resolve(wheel, work)
    print(f"\n{time.monotonic() - started:.0f} s")
    print(f"wheel-check: {len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
