"""The real catalogue covers the whole spec (no gap in any report) and the reference conforms.

The gap tests fail, on purpose, until the catalogue (scenarios/catalogue/) verifies every item.
"""

from __future__ import annotations

from pathlib import Path

from runner_support import run_here

from clinic2fa import spec
from clinic2fa.scenarios import catalogue


def test_every_guide_item_and_requirement_has_a_scenario() -> None:
    loaded = spec.load()
    scenarios = catalogue.load()
    covered = set().union(*(catalogue.spec_ids(s, loaded) for s in scenarios.values()))
    gaps = [spec_id for spec_id in loaded.all_ids() if spec_id not in covered]
    assert scenarios, "the catalogue is empty: no module of scenarios/catalogue/ registered one"
    assert gaps == [], f"spec items no scenario verifies: {', '.join(gaps)}"


def test_scenarios_verify_only_spec_ids_that_exist() -> None:
    assert catalogue.unknown_spec_ids(catalogue.load(), spec.load()) == []


def test_the_memory_reference_passes_the_whole_catalogue(tmp_path: Path) -> None:
    """Its wall time is measured in bench/, not asserted here."""
    done = run_here(tmp_path, catalogue.load(), target="memory")
    assert done.code == 0, done.out + done.err
    summary = done.report()["summary"]
    assert summary["run"] == summary["scenarios"] > 0
    assert summary["fail"] == summary["error"] == summary["warnings"] == 0, done.out


def test_no_report_shows_a_gap(tmp_path: Path) -> None:
    done = run_here(tmp_path, catalogue.load(), target="memory", select=["STEP-1"])
    report = done.report()
    gaps = [e["id"] for e in (*report["guide_items"], *report["requirements"])
            if e["verdict"] == "gap"]
    assert gaps == [], f"reports show gaps: {', '.join(gaps)}"
