"""The mutation tooling (mutation/): which scenarios judge a mutant, the oracle's verdicts, the
report's score, and the committed list of equivalent mutants."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"mutation_{name}",
                                                  ROOT / "mutation" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


run = _load("run")

SOURCE = '''from __future__ import annotations

LIMIT = 3


def check(n: int) -> bool:
    if n > LIMIT:
        return False
    return True
'''


def test_a_mutant_in_a_function_is_judged_by_the_scenarios_that_run_its_statement(
        tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(SOURCE, encoding="utf-8")
    found = run.statements(path)
    assert run._statement((3, 8), found) is None  # LIMIT = 3: module level, run at import
    inner = run._statement((8, 15), found)  # `return False`, inside the if
    assert inner == range(8, 9)
    outer = run._statement((7, 7), found)  # the comparison: the whole if statement
    assert outer == range(7, 9)


def test_a_decorator_of_a_function_is_judged_by_the_scenarios_that_call_it(
        tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("class C:\n    @locked\n    def act(self) -> int:\n        x = 1\n"
                    "        return x\n", encoding="utf-8")
    assert run._statement((2, 4), run.statements(path)) == range(4, 6)  # the body, not all


def test_the_mutants_are_made_again_once_a_module_changes(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m.py").write_text("A = 1\n", encoding="utf-8")
    monkeypatch.setattr(run, "ROOT", tmp_path)
    session = run.Session("s", "memory", ["m.py"], 1.0)
    before = run.fingerprint(session, *session.modules)
    (tmp_path / "m.py").write_text("A = 2\n", encoding="utf-8")
    assert run.fingerprint(session, *session.modules) != before  # stale positions otherwise


def _mutant(lines: range | None, path: str = "simulator/x.py") -> object:
    class Spec:
        module_path = path

    mutant = run.Mutant.__new__(run.Mutant)
    mutant.spec, mutant.lines = Spec(), lines  # type: ignore[assignment]
    return mutant


def test_relevant_scenarios_every_one_some_or_none() -> None:
    trace = run.Trace({"simulator/x.py": {7: {"A"}, 8: {"B"}, 1: {run.SETUP}}}, {"A": 1.0})
    assert run.relevant(_mutant(None), trace) is None  # module level: every scenario
    assert run.relevant(_mutant(range(7, 9)), trace) == {"A", "B"}
    assert run.relevant(_mutant(range(20, 21)), trace) == set()  # no scenario runs it
    assert run.relevant(_mutant(range(1, 2)), trace) is None  # run before any scenario


def test_limits_follow_the_unmutated_times() -> None:
    trace = run.Trace({}, {"A": 1.0, "B": 9.0})
    assert trace.limits({"A"}, 90) == (30.0, 90)
    assert trace.limits(None, 10) == (90.0, 110.0)


def test_the_score_leaves_out_equivalent_mutants_and_flags_a_listed_one_that_died() -> None:
    def made(key: str, outcome: str, unrun: str = "") -> object:
        mutant = _mutant(range(1, 2))
        mutant.key, mutant.outcome, mutant.unrun, mutant.line, mutant.change = (  # type: ignore[attr-defined]
            key, outcome, unrun, 1, "a -> b")
        return mutant

    mutants = [made("k1", "killed"), made("k2", "survived"), made("k3", "survived"),
               made("k4", "killed"), made("k5", "equivalent", run.ANNOTATION)]
    data = run.report(mutants, {"k3": "same answers", "k4": "wrongly listed"}, 1.0, "test")
    assert (data["killed"], data["surviving"], data["equivalent"]) == (2, 1, 2)
    assert data["score"] == round(2 / 3, 4)
    assert [s["mutant"] for s in data["survivors"]] == ["k2"]
    assert data["equivalents_killed"] == ["k4"]


def test_an_unreachable_survivor_is_named_so_and_still_counts_against_the_score() -> None:
    mutant = _mutant(range(1, 2))
    mutant.key, mutant.outcome, mutant.unrun, mutant.line, mutant.change = (  # type: ignore[attr-defined]
        "simulator/clinic.py:unblock:core/AddNot:x#0", "survived", "", 1, "a -> b")
    data = run.report([mutant], {}, 1.0, "test", {"simulator/clinic.py:unblock": "no call"})
    assert (data["surviving"], data["unreachable"], data["score"]) == (1, 1, 0.0)
    assert data["survivors"][0]["unreachable"] == "no call"  # type: ignore[index]
    assert "unreachable: no call" in run.summary(data)
    assert run._unreachable("simulator/clinic.py:unblocked:x", {"simulator/clinic.py:unblock":
                                                               "no call"}) == ""


def test_every_listed_unreachable_function_or_mutant_has_a_reason() -> None:
    data = tomllib.loads((ROOT / "mutation" / "equivalent.toml").read_text(encoding="utf-8"))
    for entry in data.get("unreachable", []):
        assert set(entry) in ({"function", "reason"}, {"mutant", "reason"}), entry
        where = entry.get("function") or entry["mutant"]
        assert where.startswith("simulator/") and (where.count(":") == 1 or "#" in where), entry
        assert len(entry["reason"].split()) >= 4, entry
    assert run._unreachable("a.py:f:op:x#0", {"a.py:f:op:x#0": "why"}) == "why"


def test_a_sample_is_the_same_for_a_seed() -> None:
    mutants = [_mutant(None) for _ in range(30)]
    for n, mutant in enumerate(mutants):
        mutant.key = f"k{n:02}"  # type: ignore[attr-defined]
    one, two = run.sample(mutants, 5, 7), run.sample(mutants, 5, 7)
    assert [m.key for m in one] == [m.key for m in two] and len(one) == 5
    assert run.sample(mutants, None, 7) == mutants


def test_every_listed_equivalent_mutant_has_a_reason() -> None:
    data = tomllib.loads((ROOT / "mutation" / "equivalent.toml").read_text(encoding="utf-8"))
    for entry in data.get("equivalent", []):
        assert set(entry) == {"mutant", "reason"}, entry
        assert entry["mutant"].count(":") >= 3 and "#" in entry["mutant"]
        assert len(entry["reason"].split()) >= 4, entry


@pytest.mark.parametrize(("change", "code"), [("", 0), ("LENGTH = 10", 1)])
def test_the_oracle_kills_a_mutant_the_suite_catches_and_passes_the_reference(
        tmp_path: Path, change: str, code: int) -> None:
    """Backup codes of 3 characters (15 bits): BACKUP-ENTROPY fails, the mutant dies."""
    source = (ROOT / "simulator" / "backup_codes.py").read_text(encoding="utf-8")
    mutant = tmp_path / "backup_codes.py"
    mutant.write_text(source.replace(change, "LENGTH = 3") if change else source,
                      encoding="utf-8")
    done = subprocess.run(  # noqa: S603 - this interpreter, the project's own oracle
        [sys.executable, str(ROOT / "mutation" / "oracle.py"), "--target", "memory",
         "--module", "clinic2fa.simulator.backup_codes", "--source", str(mutant),
         "--scenarios", "BACKUP-ENTROPY-20-BITS,BACKUP-COUNT-TEN"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == code, done.stdout + done.stderr
    assert ("killed by BACKUP-" if code else "survived 2 scenarios") in done.stdout
