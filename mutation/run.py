"""`make mutation`: cosmic-ray's mutants of the reference's rules, the conformance suite as oracle.

cosmic-ray (8.7) enumerates the mutants of each session's modules into its work database and
makes each mutant's source; each is then judged by mutation/oracle.py in a process of its own
(the mutant loaded in place of its module, so the working tree is never touched and mutants run
side by side), and the outcome goes back into the database (`cr-report` reads it too). The
report: mutants made, killed, surviving, equivalent (mutation/equivalent.toml, each with its
reason), incompetent (not importable), the score, and each survivor with file, line and change.

    python mutation/run.py [--mutants N] [--seed S] [--workers W] [--report-dir DIR]
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from cosmic_ray import plugins
from cosmic_ray.commands.init import init
from cosmic_ray.mutating import mutate_code
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import MutationSpec, TestOutcome, WorkerOutcome, WorkResult

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIG = HERE / "config.toml"
EQUIVALENT = HERE / "equivalent.toml"
ORACLE = HERE / "oracle.py"
KILLED = HERE / "killed.json"  # the full run's killed mutants (the fault model may name them)
PACKAGES = {"simulator": "clinic2fa.simulator", "scenarios": "clinic2fa.scenarios",
            "spec": "clinic2fa.spec"}  # pyproject.toml's package-dir
DEFAULT_SEED = 18
SETUP = "(setup)"  # mutation/oracle.py's name for what runs before the first scenario


@dataclass
class Session:
    """A set of modules judged by one oracle target (mutation/config.toml)."""

    name: str
    target: str
    modules: list[str]
    timeout: float
    definitions: list[str] = field(default_factory=list)  # only these functions, if named


@dataclass
class Mutant:
    """One mutant: where, what cosmic-ray changes, how the oracle judged it."""

    session: Session
    job_id: str
    spec: MutationSpec
    key: str = ""  # stable across unrelated edits: path:definition:operator:original#n
    line: int = 0
    change: str = ""  # the changed line, before -> after
    outcome: str = "not run"  # killed | survived | incompetent | timeout | no mutation
    said: str = ""  # the oracle's last line (which scenario killed it)
    unrun: str = ""  # why it needs no run: equivalent by a rule (ANNOTATION)
    lines: range | None = None  # the statement it is in, inside a function; None: module level


def load_sessions(path: Path = CONFIG) -> list[Session]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Session(s["name"], s["target"], list(s["modules"]), float(s["timeout"]),
                    list(s.get("definitions", []))) for s in data["session"]]


def load_equivalents(path: Path = EQUIVALENT) -> dict[str, str]:
    """mutant key -> the reason it cannot be told from the reference."""
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {e["mutant"]: e["reason"] for e in data.get("equivalent", [])}


def load_unreachable(path: Path = EQUIVALENT) -> dict[str, str]:
    """file:function (every mutant in it) or a mutant's key -> why no call of the harness's
    Target interface reaches it so that it could tell: those mutants still count as surviving
    (they are not equivalent); the report says why none was judged."""
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {e.get("function") or e["mutant"]: e["reason"] for e in data.get("unreachable", [])}


def _unreachable(key: str, unreachable: dict[str, str]) -> str:
    return next((why for where, why in unreachable.items()
                 if key == where or key.startswith(f"{where}:")), "")


def module_name(path: str) -> str:
    parts = Path(path).with_suffix("").parts
    return ".".join([PACKAGES[parts[0]], *parts[1:]])


# -- making the mutants --------------------------------------------------------------------------


def fingerprint(session: Session, *folders: str) -> str:
    """A digest of the session and the sources a result of it depends on: an earlier run's
    mutants (of the modules) or trace (of everything the suite runs) is reused while it holds."""
    digest = hashlib.sha256(repr((session.name, session.target, session.modules)).encode())
    # a module is a file, whose rglob() finds nothing: its own text counts then
    found = [p for f in folders for p in ([ROOT / f] if (ROOT / f).is_file()
                                          else (ROOT / f).rglob("*"))]
    for path in sorted(p for p in found
                       if p.suffix in (".py", ".toml", ".json") and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _reused(stamp: Path, value: str) -> bool:
    return stamp.is_file() and stamp.read_text(encoding="utf-8") == value


def enumerate_session(session: Session, db_path: Path) -> list[Mutant]:
    """cosmic-ray's mutants of the session's modules (in its database), in a stable order;
    the database of an earlier run is reused while the modules are unchanged."""
    stamp, value = db_path.with_suffix(".modules"), fingerprint(session, *session.modules)
    if db_path.is_file() and _reused(stamp, value):
        with use_db(str(db_path), WorkDB.Mode.open) as db:
            items = list(db.work_items)
    else:
        db_path.unlink(missing_ok=True)
        with use_db(str(db_path), WorkDB.Mode.create) as db:
            init([Path(m) for m in session.modules], db, {})
            items = list(db.work_items)
        stamp.write_text(value, encoding="utf-8")
    mutants = []
    for item in items:
        (spec,) = item.mutations
        if session.definitions and spec.definition_name not in session.definitions:
            continue
        mutants.append(Mutant(session, item.job_id, spec))
    _name(mutants)
    return sorted(mutants, key=lambda m: m.key)


# Equivalent by rule, so never run: every module here starts `from __future__ import
# annotations` (checked), so an annotation is a string nobody evaluates (PEP 563).
ANNOTATION = "in a type annotation, which `from __future__ import annotations` never evaluates"


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where a module's annotations are: parameters, returns, annotated assignments."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
                 and any(a.name == "annotations" for a in n.names) for n in tree.body)
    if not future:
        return []
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
    return [((n.lineno, n.col_offset), (n.end_lineno or n.lineno, n.end_col_offset or 0))
            for n in found]


def _in(position: tuple[int, int], spans: Iterable[tuple[tuple[int, int], tuple[int, int]]],
        ) -> bool:
    return any(start <= position < end for start, end in spans)


def statements(path: Path) -> list[tuple[tuple[int, int], tuple[int, int], range]]:
    """Every statement inside a function body: its span and the lines it covers.

    What is not in one (module and class level, a def line with its defaults) runs at import,
    before any scenario: a mutant there is judged by every scenario. A function's decorators
    run at import too, but what removing one changes (`@_locked`: the lock) happens only when
    the function is called: they count as its body, judged by the scenarios that run it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            if func.decorator_list and func.body:
                body = range(func.body[0].lineno, (func.body[-1].end_lineno or func.lineno) + 1)
                found.append(((func.decorator_list[0].lineno, 0), (func.lineno, 0), body))
            for stmt in func.body:
                for node in ast.walk(stmt):
                    if isinstance(node, ast.stmt):
                        end = node.end_lineno or node.lineno
                        found.append(((node.lineno, node.col_offset),
                                      (end, node.end_col_offset or 0),
                                      range(node.lineno, end + 1)))
    return found


def _statement(position: tuple[int, int],
               found: list[tuple[tuple[int, int], tuple[int, int], range]]) -> range | None:
    """The lines of the innermost statement in a function holding `position`, if any."""
    inside = [lines for start, end, lines in found if start <= position < end]
    return min(inside, key=len) if inside else None


def _name(mutants: Iterable[Mutant]) -> None:
    """Each mutant's key and its changed line, from the source and cosmic-ray's positions."""
    seen: Counter[str] = Counter()
    sources: dict[str, list[str]] = {}
    spans: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]] = {}
    bodies: dict[str, list[tuple[tuple[int, int], tuple[int, int], range]]] = {}
    for mutant in sorted(mutants, key=lambda m: (str(m.spec.module_path), m.spec.start_pos,
                                                 m.spec.operator_name, m.spec.occurrence)):
        path = str(mutant.spec.module_path)
        lines = sources.setdefault(path, (ROOT / path).read_text(encoding="utf-8").splitlines())
        if path not in spans:
            spans[path] = annotation_spans(ROOT / path)
            bodies[path] = statements(ROOT / path)
        mutant.lines = _statement(tuple(mutant.spec.start_pos), bodies[path])  # type: ignore[arg-type]
        if _in(tuple(mutant.spec.start_pos), spans[path]):  # type: ignore[arg-type]
            mutant.unrun = ANNOTATION
        (row, col), (end_row, end_col) = mutant.spec.start_pos, mutant.spec.end_pos
        original = lines[row - 1][col:end_col] if row == end_row else lines[row - 1][col:]
        base = f"{path}:{mutant.spec.definition_name or '<module>'}:" \
               f"{mutant.spec.operator_name}:{original.strip()}"
        mutant.key = f"{base}#{seen[base]}"
        seen[base] += 1
        mutant.line = row


def sample(mutants: list[Mutant], count: int | None, seed: int) -> list[Mutant]:
    """`count` of them, drawn with `seed` (all of them without a count)."""
    if count is None or count >= len(mutants):
        return mutants
    drawn = random.Random(seed).sample(mutants, count)  # noqa: S311 - a sample, not a secret
    return sorted(drawn, key=lambda m: m.key)


# -- judging them --------------------------------------------------------------------------------


@dataclass
class Trace:
    """The unmutated suite, traced: which scenarios run each line; how long each took."""

    lines: dict[str, dict[int, set[str]]]  # file -> line -> the scenarios that run it
    seconds: dict[str, float]  # scenario -> seconds on the unmutated reference, traced

    def limits(self, only: set[str] | None, timeout: float) -> tuple[float, float]:
        """(seconds a scenario may take, seconds the whole mutant may take): ten times the
        slowest scenario's unmutated time and five times their sum, loaded or not, so a
        mutant is killed as hanging only when it really is slower than the reference."""
        times = [t for s, t in self.seconds.items() if only is None or s in only] or [0.0]
        return max(30.0, 10 * max(times)), max(timeout, 60 + 5 * sum(times))



def trace(session: Session, report_dir: Path) -> Trace:
    """The unmutated suite, traced: which scenarios run each line of the session's modules.

    It must pass (every scenario passes or decides nothing on the reference), or no mutant's
    verdict would mean anything: SystemExit then, with what failed."""
    path = report_dir / f"{session.name}-lines.json"
    stamp = path.with_suffix(".sources")
    value = fingerprint(session, "simulator", "scenarios", "spec", "mutation")
    done = None
    if not (path.is_file() and _reused(stamp, value)):
        stamp.unlink(missing_ok=True)
        command = [sys.executable, str(ORACLE), "--target", session.target, "--trace",
                   str(path), "--files", *session.modules]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                              check=False)
    if done is not None and done.returncode == 0:
        stamp.write_text(value, encoding="utf-8")
    if done is not None and done.returncode != 0:
        said = (done.stdout.strip() or done.stderr.strip()[-2000:]).splitlines()
        raise SystemExit(f"mutation: the suite does not pass the unmutated reference on "
                         f"{session.target}: {said[-1] if said else 'no output'}")
    data = json.loads(path.read_text(encoding="utf-8"))
    found: dict[str, dict[int, set[str]]] = {}
    for scenario, lines in data["lines"].items():
        for file, line in lines:
            found.setdefault(file, {}).setdefault(line, set()).add(scenario)
    return Trace(found, data["seconds"])


def relevant(mutant: Mutant, lines: Trace) -> set[str] | None:
    """The scenarios that run the mutant's statement (None: every one; empty: none does)."""
    if mutant.lines is None:
        return None
    runs = lines.lines.get(str(mutant.spec.module_path), {})
    found = set().union(*(runs.get(n, set()) for n in mutant.lines))
    return None if SETUP in found else found


def judge(mutant: Mutant, scratch: Path, lines: Trace) -> WorkResult:
    """Make the mutant's source, run the oracle on it (with the scenarios that run its
    statement), and say what came of it."""
    path = ROOT / mutant.spec.module_path
    source = path.read_text(encoding="utf-8")
    operator = plugins.get_operator(mutant.spec.operator_name)(**(mutant.spec.operator_args or {}))
    mutated = mutate_code(source, operator, mutant.spec.occurrence)
    if mutated is None:
        mutant.outcome = "no mutation"
        return WorkResult(worker_outcome=WorkerOutcome.NO_TEST)
    diff = difflib.unified_diff(source.splitlines(), mutated.splitlines(), str(path),
                                str(path), n=0, lineterm="")
    changed = [d for d in diff if d[:1] in "+-" and not d.startswith(("+++", "---"))]
    before = next((d[1:].strip() for d in changed if d.startswith("-")), "")
    after = next((d[1:].strip() for d in changed if d.startswith("+")), "")
    mutant.change = f"{before}  ->  {after}"
    only = relevant(mutant, lines)
    if only == set():
        mutant.outcome, mutant.said = "survived", "no scenario runs this line"
        return WorkResult(worker_outcome=WorkerOutcome.NORMAL,
                          test_outcome=TestOutcome.SURVIVED, output=mutant.said,
                          diff="\n".join(changed))
    file = scratch / f"{mutant.job_id}.py"
    file.write_text(mutated, encoding="utf-8")
    command = [sys.executable, str(ORACLE), "--target", mutant.session.target,
               "--module", module_name(str(mutant.spec.module_path)), "--source", str(file)]
    if only is not None:
        command += ["--scenarios", ",".join(sorted(only))]
    limit, timeout = lines.limits(only, mutant.session.timeout)
    command += ["--limit", f"{limit:.0f}"]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        mutant.outcome, mutant.said = "timeout", f"no verdict in {timeout:.0f} s"
        return WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=TestOutcome.KILLED,
                          output=mutant.said, diff="\n".join(changed))
    finally:
        file.unlink(missing_ok=True)
    lines = (done.stdout.strip() or done.stderr.strip() or "no output").splitlines()
    mutant.said = lines[-1]
    outcome = {0: TestOutcome.SURVIVED, 2: TestOutcome.INCOMPETENT}.get(done.returncode,
                                                                         TestOutcome.KILLED)
    mutant.outcome = outcome.value
    return WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=outcome,
                      output=done.stdout[-2000:], diff="\n".join(changed))


def execute(mutants: Sequence[Mutant], db_paths: dict[str, Path], workers: int,
            traces: dict[str, Trace], say: Callable[[str], None] = print) -> None:
    """Judge every mutant, `workers` at a time; each result into its session's database."""
    dbs = {name: WorkDB(str(path), WorkDB.Mode.open) for name, path in db_paths.items()}
    for mutant in mutants:
        if mutant.unrun:
            mutant.outcome = "equivalent"
    mutants = [m for m in mutants if not m.unrun]
    chosen = {m.job_id for m in mutants}
    try:
        for db in dbs.values():  # what is out of scope or not sampled: skipped
            skipped = [i.job_id for i in db.work_items if i.job_id not in chosen]
            if skipped:
                db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        started, done = time.monotonic(), 0
        with tempfile.TemporaryDirectory(prefix="mutants-") as scratch, \
                ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(judge, m, Path(scratch), traces[m.session.name]): m
                       for m in mutants}
            for future in as_completed(futures):
                mutant = futures[future]
                dbs[mutant.session.name].set_result(mutant.job_id, future.result())
                done += 1
                if mutant.outcome == "survived" or done % 25 == 0 or done == len(mutants):
                    say(f"[{done}/{len(mutants)} {time.monotonic() - started:6.0f}s] "
                        f"{mutant.outcome:<11} {mutant.key}")
    finally:
        for db in dbs.values():
            db.close()


# -- the report ----------------------------------------------------------------------------------


def report(mutants: Sequence[Mutant], equivalents: dict[str, str], seconds: float,
           how: str, unreachable: dict[str, str] | None = None) -> dict[str, object]:
    """Counts, the score and the survivors, as data (report.json); a survivor in a function
    no Target call reaches says so, and counts against the score all the same."""
    unreachable = unreachable or {}
    counts = Counter(m.outcome for m in mutants)
    survived = [m for m in mutants if m.outcome == "survived"]
    listed = [m for m in survived if m.key in equivalents]
    surviving = [m for m in survived if m.key not in equivalents]
    equivalent = listed + [m for m in mutants if m.unrun]
    killed = counts["killed"] + counts["timeout"]
    judged = killed + len(surviving)
    stale = sorted(k for k in equivalents if k in {m.key for m in mutants}
                   and k not in {m.key for m in listed})
    return {
        "how": how, "seconds": round(seconds, 1), "made": len(mutants),
        "killed": killed, "timeouts": counts["timeout"], "surviving": len(surviving),
        "equivalent": len(equivalent), "equivalent_by_rule": {ANNOTATION: sum(
            1 for m in mutants if m.unrun == ANNOTATION)},
        "incompetent": counts["incompetent"],
        "no_mutation": counts["no mutation"],
        "score": round(killed / judged, 4) if judged else 1.0,
        "unreachable": sum(1 for m in surviving if _unreachable(m.key, unreachable)),
        "survivors": [{"mutant": m.key, "file": str(m.spec.module_path), "line": m.line,
                       "change": m.change,
                       **({"unreachable": why} if (why := _unreachable(m.key, unreachable))
                          else {})} for m in surviving],
        "equivalents_killed": stale,  # listed as equivalent, yet the suite killed them
        "by_module": {path: dict(Counter(m.outcome for m in mutants
                                         if str(m.spec.module_path) == path))
                      for path in sorted({str(m.spec.module_path) for m in mutants})},
    }


def summary(data: dict[str, object]) -> str:
    lines = [f"mutation ({data['how']}): {data['made']} mutants made, {data['killed']} killed "
             f"({data['timeouts']} by timeout), {data['surviving']} surviving, "
             f"{data['equivalent']} equivalent, {data['incompetent']} incompetent; "
             f"{data['seconds']:.0f} s",
             f"score: {100 * float(data['score']):.1f}% of the non-equivalent mutants killed"]
    for survivor in data["survivors"]:  # type: ignore[attr-defined]
        lines.append(f"  SURVIVED {survivor['file']}:{survivor['line']}  {survivor['change']}"
                     f"   [{survivor['mutant']}]")
        if survivor.get("unreachable"):
            lines.append(f"    unreachable: {survivor['unreachable']}")
    for key in data["equivalents_killed"]:  # type: ignore[attr-defined]
        lines.append(f"  listed as equivalent but killed (remove it): {key}")
    return "\n".join(lines)


# -- the command ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mutation/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--mutants", type=int, default=None, metavar="N",
                        help="a sample of N mutants (default: every one)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="S",
                        help=f"the sample's seed (default {DEFAULT_SEED})")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="W",
                        help="mutants judged at once (default: one per core)")
    parser.add_argument("--report-dir", type=Path, default=ROOT / "reports" / "mutation")
    parser.add_argument("--session", action="append", default=[],
                        help="only this session of mutation/config.toml (repeatable)")
    parser.add_argument("--module", action="append", default=[], metavar="PATH",
                        help="only the mutants of this module, e.g. simulator/backup_codes.py "
                             "(repeatable): one module's full score")
    args = parser.parse_args(argv)
    args.report_dir.mkdir(parents=True, exist_ok=True)
    sessions = [s for s in load_sessions() if not args.session or s.name in args.session]
    started = time.monotonic()
    db_paths, everyone = {}, []
    for session in sessions:
        db_paths[session.name] = args.report_dir / f"{session.name}.sqlite"
        everyone += enumerate_session(session, db_paths[session.name])
    if args.module:
        everyone = [m for m in everyone if str(m.spec.module_path) in args.module]
    chosen = sample(everyone, args.mutants, args.seed)
    how = f"all {len(everyone)}" if len(chosen) == len(everyone) else \
        f"a sample of {len(chosen)} of {len(everyone)}, seed {args.seed}"
    modules = len(args.module) or sum(len(s.modules) for s in sessions)
    if args.module:
        how += f" of {', '.join(args.module)}"
    print(f"mutation: {how} mutants of {modules} modules, {args.workers} at a time", flush=True)
    traces = {}
    for session in sessions:
        if any(m.session is session for m in chosen):
            print(f"mutation: the unmutated suite on {session.target}, traced (or the trace of "
                  "an earlier run of the same sources)", flush=True)
            traces[session.name] = trace(session, args.report_dir)
    execute(chosen, db_paths, args.workers, traces, lambda line: print(line, flush=True))
    data = report(chosen, load_equivalents(), time.monotonic() - started, how,
                  load_unreachable())
    (args.report_dir / "report.json").write_text(json.dumps(data, indent=2) + "\n",
                                                 encoding="utf-8")
    if len(chosen) == len(everyone) and not args.session and not args.module:  # the full run
        KILLED.write_text(json.dumps({"killed": sorted(
            m.key for m in chosen if m.outcome in ("killed", "timeout"))}, indent=0) + "\n",
            encoding="utf-8")
    text = summary(data)
    (args.report_dir / "report.txt").write_text(text + "\n", encoding="utf-8")
    print("\n" + text + f"\nreports: {args.report_dir / 'report.txt'}, "
          f"{args.report_dir / 'report.json'}, cosmic-ray sessions "
          f"{', '.join(str(p) for p in db_paths.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
