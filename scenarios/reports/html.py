"""report.html: one self-contained page: the verdict and a picture of it, the traceability
matrix, then the scenarios, failures first, filtered by verdict and guide item without script.

The filters are radio buttons styled as buttons: `#v-bad:checked ~ .scenarios .sc:not(.v-bad)`
hides the rest, so the page reads and filters with scripts off and nothing fetched.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from clinic2fa.scenarios.core.verdicts import Outcome
from clinic2fa.scenarios.reports import evidence as report_evidence
from clinic2fa.scenarios.reports import words

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;
padding:1.5rem;color:#1d2430;background:#fff}
h1{font-size:1.5rem;margin:.2rem 0}h2{margin-top:2rem;border-bottom:2px solid #d8dee8}
h3{margin:.2rem 0;font-size:1.05rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #d8dee8;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f5f9}code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;white-space:pre-wrap}
.b{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:12px;font-weight:600;
white-space:nowrap;margin:1px 0}
.pass,.conforms{background:#d7f5dd;color:#135d22}.fail,.does_not_conform{background:#fbd9d9;
color:#8a1414}.feature_absent{background:#fbd9d9;color:#8a1414;border:1px dashed #8a1414}
.error{background:#ffe2b8;color:#7a4000}.not_applicable,.unsupported,.inconclusive,
.config_exhausted,.not_verified,.not_run{
background:#e6e9ee;color:#3d4755}.gap{background:#1d2430;color:#fff}.waived_fail{
background:#efe0fb;color:#5b1f86}.waived_pass{background:#fff3b0;color:#6b5900}
.warn{background:#fff3b0;color:#6b5900}
a.b{text-decoration:none}section.sc{border:1px solid #d8dee8;border-radius:4px;padding:.6rem .8rem;
margin:.8rem 0}blockquote{margin:.4rem 0;padding:.2rem .8rem;border-left:3px solid #b7c2d3;
color:#3d4755}ol.trace{padding-left:1.6rem}ol.trace li{margin:.15rem 0}
.step{font-weight:600}.note{color:#5a6475;font-style:italic}.ok{color:#135d22}.bad{color:#8a1414}
.meta{color:#5a6475}dl.head{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem}
dl.head dt{font-weight:600}
.headline{margin-left:.4rem}svg.picture{max-width:100%;height:auto;margin:.3rem 0}
details.sc{border:1px solid #d8dee8;border-radius:4px;padding:.4rem .8rem;margin:.5rem 0}
details.sc>summary{cursor:pointer}details.sc>summary h3{display:inline}
.filter-input{position:absolute;opacity:0;pointer-events:none}
.filters{margin:.5rem 0 1rem}.filters label{display:inline-block;border:1px solid #b7c2d3;
border-radius:3px;padding:0 .45rem;margin:2px;cursor:pointer;font-size:12px;background:#f6f8fa}
.filters .legend{font-weight:600;margin-right:.3rem}
"""

_WORDS = {"pass": "pass", "fail": "fail", "error": "error", "feature_absent": "feature absent",
          "not_applicable": "not applicable", "unsupported": "unsupported",
          "inconclusive": "inconclusive", "config_exhausted": "no account left",
          "waived_fail": "waived fail", "waived_pass": "waived, passed", "not_run": "not run",
          "conforms": "conforms", "does_not_conform": "does not conform",
          "not_verified": "not verified", "gap": "gap"}


_OUTCOMES = tuple(o.value for o in Outcome)


def _badge(value: str, href: str = "", label: str = "") -> str:
    text = escape(label or _WORDS.get(value, value))
    if href:
        return f'<a class="b {escape(value)}" href="{escape(href)}">{text}</a>'
    return f'<span class="b {escape(value)}">{text}</span>'


def _scenario_links(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return _badge("gap", label="no scenario")
    return " ".join(_badge(r["outcome"], f"#sc-{r['id']}", f"{r['id']}: {_WORDS[r['outcome']]}")
                    for r in rows)


def _header(report: dict[str, Any]) -> str:
    verdict = ("aborted" if report["aborted"] else
               "conforms" if report["conforms"] else "does_not_conform")
    clock_text = words.describe_clock(report["clock"])
    summary = report["summary"]
    counts = ", ".join(f"{summary[k]} {_WORDS[k]}" for k in _OUTCOMES if summary[k])
    if summary["warnings"]:
        counts += f" ({summary['warnings']} of the failures SHOULD-level: warnings)"
    if summary["not_run"]:
        counts += f", {summary['not_run']} not run"
    spec_counts = ", ".join(f"{n} {_WORDS[k]}" for k, n in report["spec_summary"].items())
    rows = [("Verdict", _badge(verdict if verdict != "aborted" else "error",
                               label=verdict.replace("_", " "))
             + f' <b class="headline">{escape(report.get("headline", ""))}</b>'),
            ("Target", f"<code>{escape(report['target']['name'])}</code> "
                       f"({escape(report['target'].get('description', ''))})"),
            ("Capabilities", escape(", ".join(report["target"]["capabilities"]) or "none")),
            ("Declared policy", escape(", ".join(
                f"{k} = {json.dumps(report['target']['policy']['values'][k])}"
                for k in report["target"]["policy"]["declared"]) or
                "none: checked against the reference's choices")),
            ("Server clock offset", escape(clock_text)),
            ("Harness", escape(f"clinic2fa {report['harness']['version']}")),
            ("Run", escape(f"{report['started']} to {report['finished']} "
                           f"({report['duration_seconds']} s), exit code {report['exit_code']}"
                           f"{', strict' if report['options']['strict'] else ''}")),
            ("Scenarios", escape(f"{report['summary']['run']} run: {counts}")),
            ("Spec items", escape(spec_counts))]
    rows[2:2] = report_evidence.header_rows(report)
    if report["aborted"]:
        rows.insert(1, ("Aborted", escape(report["aborted"])))
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<h1>clinic2fa conformance report</h1><dl class="head">{body}</dl>'


def _verdict(entry: dict[str, Any]) -> str:
    kind = entry.get("verdict_kind")
    said = f'<br><span class="meta">{escape(kind.replace("_", " "))}</span>' if kind else ""
    partly = entry.get("partial")
    if partly:  # what was seen, and what could not run here
        said = ('<br><span class="meta">partly: passed '
                f'{_ids(partly["passed"])}; could not run here {_ids(partly["could_not_run"])}'
                "</span>")
    return _badge(entry["verdict"]) + said


def _ids(ids: list[str]) -> str:
    return escape(", ".join(ids))


def _policy(entry: dict[str, Any]) -> str:
    """The declared values the item was checked against; the reference's ones marked so."""
    return "<br>".join(f'<code>{escape(p["key"])} = {_compact(p["value"])}</code>'
                       f'{"" if p["declared"] else " <span class=meta>(reference)</span>"}'
                       for p in entry.get("policy", []))


def _matrix(report: dict[str, Any]) -> str:
    out = ["<h2>Traceability: the guide</h2><table><tr><th>Item</th><th>Guide text</th>"
           "<th>Verdict</th><th>Scenarios</th><th>Requirements</th><th>Checked against</th>"
           "</tr>"]
    for item in report["guide_items"]:
        reqs = " ".join(f'<a href="#spec-{escape(r)}">{escape(r)}</a>'
                        for r in item["requirements"])
        out.append(f'<tr id="spec-{escape(item["id"])}"><td><b>{escape(item["id"])}</b><br>'
                   f'{escape(item["title"])}</td><td>{escape(item["text"])}</td>'
                   f'<td>{_verdict(item)}</td><td>{_scenario_links(item["scenarios"])}'
                   f"</td><td>{reqs}</td><td>{_policy(item)}</td></tr>")
    out.append("</table><h2>Traceability: the requirements</h2><table><tr><th>Requirement</th>"
               "<th>Level</th><th>Statement</th><th>Source</th><th>Verdict</th>"
               "<th>Scenarios</th><th>Checked against</th></tr>")
    for req in report["requirements"]:
        out.append(f'<tr id="spec-{escape(req["id"])}"><td><b>{escape(req["id"])}</b><br>'
                   f'{escape(req["title"])}</td><td>{escape(req["level"])}</td>'
                   f'<td>{escape(req["statement"])}</td><td>{escape(req["citation"])}</td>'
                   f'<td>{_verdict(req)}</td>'
                   f'<td>{_scenario_links(req["scenarios"])}</td><td>{_policy(req)}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _compact(value: Any) -> str:
    return escape(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))


def _entry(entry: dict[str, Any]) -> str:
    kind, text = entry["kind"], escape(entry["text"])
    when = f'<span class="meta">{entry["at"]:.3f}s</span> '
    if kind == "step":
        return f'<li class="step">{when}{text}</li>'
    if kind == "note":
        return f'<li class="note">{when}{text}</li>'
    if kind == "unverified":
        return f'<li class="note">{when}<b>not verified:</b> {text}</li>'
    if kind == "check":
        mark = '<span class="ok">✓</span>' if entry["ok"] else '<span class="bad">✗</span>'
        return f"<li>{when}{mark} {text}</li>"
    detail = entry["detail"]
    args = _compact(detail.get("args", {}))
    if "refused" in detail:
        answer = f'<span class="bad">refused {_compact(detail["refused"])}</span>'
    else:
        answer = f'→ <code>{_compact(detail.get("result"))}</code>'
    return f"<li>{when}<code>{text}({args})</code> {answer}</li>"


# Scenario order: what blocks first, then warnings, then what decided nothing, passes last.
_RANK = {"error": 0, "fail": 1, "feature_absent": 2, "waived_fail": 4, "inconclusive": 5,
         "config_exhausted": 6, "unsupported": 7, "waived_pass": 8, "not_applicable": 9,
         "pass": 10}
# The verdict filter: its buttons, and which outcomes each shows.
_GROUPS = (("bad", "failures and errors"), ("warn", "warnings"), ("waived", "waived"),
           ("undecided", "not decided"), ("pass", "passed"))
_FILL = {"conforms": "#2e9b48", "does_not_conform": "#c62828", "not_verified": "#9aa5b4",
         "gap": "#1d2430"}


def _rank(scen: dict[str, Any]) -> int:
    return 3 if scen["warning"] else _RANK.get(scen["outcome"], 5)


def _group(scen: dict[str, Any]) -> str:
    if scen["warning"]:
        return "warn"
    outcome = scen["outcome"]
    if outcome in ("error", "fail", "feature_absent"):
        return "bad"
    if outcome in ("waived_fail", "waived_pass"):
        return "waived"
    return "pass" if outcome == "pass" else "undecided"


def _scenario(scen: dict[str, Any], directory: Path | None = None) -> str:
    outcome = scen["outcome"]
    badge = _badge("warn", label="fail (SHOULD: warning)") if scen["warning"] else \
        _badge(outcome)
    verifies = " ".join(f'<a href="#spec-{escape(v)}">{escape(v)}</a>' for v in scen["verifies"])
    classes = " ".join(["sc", f"v-{_group(scen)}",
                        *(f"g-{escape(g)}" for g in scen.get("guide_items", []))])
    failing = _group(scen) in ("bad", "warn") or outcome == "waived_fail"
    source = scen.get("source")
    where = f' · <code>{escape(source["file"])}:{source["line"]}</code>' if source else ""
    parts = [f'<details class="{classes}" id="sc-{escape(scen["id"])}"'
             f'{" open" if failing else ""}><summary><h3>{escape(scen["id"])} '
             f'{badge}</h3> {escape(scen["title"])}</summary>'
             f'<div class="meta">{escape(scen["level"])} · verifies {verifies} · '
             f'{scen["duration_seconds"]:.3f} s'
             f'{" · needs " + escape(", ".join(scen["needs"])) if scen["needs"] else ""}'
             f'{where}</div>',
             f'<blockquote>{escape(scen["quote"])}</blockquote>']
    failure = scen.get("failure")
    if failure:
        parts.append(f'<p><b>Expected:</b> {escape(failure["expected"])}<br>'
                     f'<b>Got:</b> {escape(failure["got"])}</p>')
    if scen["message"]:
        parts.append(f'<p><b>{escape(_WORDS[outcome])}:</b> {escape(scen["message"])}</p>')
    if scen["waiver"]:
        parts.append(f'<p><b>Waiver:</b> {escape(scen["waiver"])}</p>')
    if scen.get("not_verified"):
        parts.append("<p><b>Not verified:</b></p><ul>" + "".join(
            f"<li>{escape(text)}</li>" for text in scen["not_verified"]) + "</ul>")
    if scen["detail"]:
        parts.append(f'<pre>{escape(scen["detail"])}</pre>')
    parts.append(report_evidence.trace_links(scen))
    steps = report_evidence.interleave(scen, _entry, directory)
    opened = " open" if outcome in ("fail", "error", "feature_absent", "waived_fail") else ""
    parts.append(f'<details{opened}><summary>Trace ({len(scen["trace"])} entries)</summary>'
                 f'<ol class="trace">{steps}</ol></details></details>')
    return "".join(parts)


def picture(report: dict[str, Any]) -> str:
    """Inline SVG: one square per guide item in its verdict's colour (linked to its row in the
    matrix), and a bar of every spec item by verdict. Readable without any script."""
    items = report["guide_items"]
    size, gap, top = 66, 4, 24
    width = max(len(items) * (size + gap), 480)
    shapes = ['<text x="0" y="14" font-size="13" font-weight="600">Guide items</text>']
    for i, item in enumerate(items):
        x = i * (size + gap)
        word = _WORDS[item["verdict"]]
        shapes.append(
            f'<a href="#spec-{escape(item["id"])}"><rect x="{x}" y="{top}" width="{size}" '
            f'height="{size}" rx="4" fill="{_FILL[item["verdict"]]}"><title>'
            f'{escape(item["id"])}: {escape(item["title"])} ({word})</title></rect>'
            f'<text x="{x + size / 2}" y="{top + size / 2 + 4}" font-size="9.5" '
            f'text-anchor="middle" fill="#fff">{escape(item["id"])}</text></a>')
    counts = report["spec_summary"]
    total = sum(counts.values()) or 1
    bar_y = top + size + 34
    shapes.append(f'<text x="0" y="{bar_y - 8}" font-size="13" font-weight="600">'
                  f'All {total} spec items</text>')
    x = 0.0
    for verdict, fill in _FILL.items():
        n = counts.get(verdict, 0)
        if not n:
            continue
        w = width * n / total
        shapes.append(f'<rect x="{x:.1f}" y="{bar_y}" width="{w:.1f}" height="22" '
                      f'fill="{fill}"><title>{n} {_WORDS[verdict]}</title></rect>')
        label = f"{n} {_WORDS[verdict]}"
        if w > 7 * len(label) + 12:
            shapes.append(f'<text x="{x + 6:.1f}" y="{bar_y + 15}" font-size="11" fill="#fff">'
                          f'{label}</text>')
        x += w
    height = bar_y + 30
    return (f'<svg class="picture" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'aria-label="{escape(report.get("headline", "verdicts"))}">'
            f'{"".join(shapes)}</svg>')


def _filters(report: dict[str, Any], scenarios: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(the radio inputs, their labels, the CSS that makes them filter): no script needed."""
    groups = [("all", "all")] + [(g, w) for g, w in _GROUPS
                                  if any(_group(s) == g for s in scenarios)]
    guide = [("any", "any")] + [(i["id"], i["id"]) for i in report["guide_items"]
                                if any(i["id"] in s.get("guide_items", []) for s in scenarios)]
    inputs, labels, css = [], [], []
    for name, choices, legend in (("v", groups, "Show"), ("g", guide, "Guide item")):
        labels.append(f'<div><span class="legend">{legend}:</span>')
        for index, (value, word) in enumerate(choices):
            ident = f"{name}-{escape(value)}"
            inputs.append(f'<input class="filter-input" type="radio" name="{name}" '
                          f'id="{ident}"{" checked" if index == 0 else ""}>')
            labels.append(f'<label for="{ident}">{escape(word)}</label>')
            css.append(f"#{ident}:checked~.filters label[for={ident}]"
                       "{background:#1d2430;color:#fff}")
            if index:
                css.append(f"#{ident}:checked~.scenarios .sc:not(.{name}-{escape(value)})"
                           "{display:none}")
        labels.append("</div>")
    return "".join(inputs), f'<div class="filters">{"".join(labels)}</div>', "".join(css)


def render(report: dict[str, Any], directory: Path | None = None) -> str:
    """The whole page; every value is escaped, nothing is fetched from elsewhere.

    `directory` is where the report's files are: a browser run's screenshots are embedded.
    """
    ordered = sorted(report["scenarios"], key=_rank)  # stable: catalogue order within a rank
    scenarios = "".join(_scenario(s, directory) for s in ordered)
    inputs, labels, filter_css = _filters(report, ordered)
    failing = [s for s in ordered if _group(s) == "bad"]
    first = ""
    if failing:
        links = " ".join(_badge(s["outcome"], f"#sc-{s['id']}", s["id"]) for s in failing)
        first = f'<p><b>{len(failing)} failing or in error, shown first:</b> {links}</p>'
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>clinic2fa report: {escape(report['target']['name'])}</title>"
            f"<style>{CSS}{report_evidence.CSS}{filter_css}</style></head><body>"
            f"{_header(report)}{picture(report)}{first}{_matrix(report)}"
            f"<h2>Scenarios</h2>{inputs}{labels}"
            f'<div class="scenarios">{scenarios or "<p>No scenario ran.</p>"}</div>'
            "</body></html>\n")
