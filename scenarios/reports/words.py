"""What a report says in words about the target and its clock: console, HTML and JSON alike."""

from __future__ import annotations

from typing import Any


def describe_target(kind: str, reference: bool) -> str:
    """What the target is, in words: the reference, the user's own code, or a deployment."""
    if reference:
        return "the reference"
    if kind == "python":
        return "your implementation, in this process"
    return "a deployment"


def describe_clock(clock: dict[str, Any] | None) -> str:
    """How the server's clock stood, in words, for the console and the HTML report."""
    if not clock:
        return "not measured"
    if clock["source"] == "memory":
        return "none: the in-memory reference runs on the suite's own clock"
    if clock["source"] == "freezegun":
        return "none: the harness holds and moves the system clock (freezegun)"
    return (f"{clock['offset_seconds']:+.3f} s ± {clock['uncertainty_seconds']:.3f} s "
            f"({clock['source']}, {clock['samples']} samples)")


def headline(report: dict[str, Any]) -> str:
    """The verdict with its coverage: never "conforms" alone when items went unverified.

    e.g. "CONFORMS on 19 of 51 spec items; 32 not verified on this target", or "...; 32 not
    verified (3 of them partly: some checks could not run on this target)" when some of those
    had a scenario pass.
    """
    counts = report["spec_summary"]
    total = sum(counts.values())
    good, bad = counts.get("conforms", 0), counts.get("does_not_conform", 0)
    unverified, gaps = counts.get("not_verified", 0), counts.get("gap", 0)
    partly = sum(entry.get("verdict_kind") == "partial"
                 for key in ("guide_items", "requirements") for entry in report.get(key, []))
    rest = []
    if unverified and partly:
        rest.append(f"{unverified} not verified ({partly} of them partly: some checks could not "
                    "run on this target)")
    elif unverified:
        rest.append(f"{unverified} not verified on this target")
    if gaps:
        rest.append(f"{gaps} with no scenario (gaps)")
    code = report["exit_code"]
    own = (report.get("user_tests") or {}).get("failed", 0)
    if code == 0:
        scope = f"all {total}" if good == total else f"{good} of {total}"
        return "; ".join([f"CONFORMS on {scope} spec items", *rest])
    if code == 1:
        blocking = report["summary"]["blocking"]
        why = [f"{bad} of {total} spec items fail"] if bad else []
        if blocking and not bad:
            why.append(f"{blocking} blocking scenario errors")
        if own:
            why.append(f"{own} of your own tests failed")
        return "; ".join([f"DOES NOT CONFORM: {', '.join(why) or 'blocking failures'}",
                          f"{good} conform", *rest])
    stopped = {3: "NOT VERIFIED: target unreachable", 130: "INTERRUPTED"}.get(code, "STOPPED")
    ran = report["summary"]["run"]
    return "; ".join([f"{stopped} after {ran} of {report['summary']['scenarios']} scenarios",
                      f"{good} of {total} spec items conform so far", *rest])
