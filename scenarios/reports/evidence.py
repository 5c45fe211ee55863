"""report.html's share of a browser run: screenshots inline beside the trace, trace links.

Screenshots sit in the report directory (report.json names them); the page embeds each as a
base64 JPEG in order, after the call that left the page that way, so the file stays one
self-contained page. Without the directory (or the file), the image is linked instead.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

CSS = """
figure.shot{margin:.3rem 0 .6rem;display:inline-block;border:1px solid #d8dee8;padding:.2rem;
background:#f6f8fa}figure.shot img{display:block;max-width:480px;height:auto}
figure.shot figcaption{font-size:12px;color:#5a6475}
"""


def header_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The browser's facts for the report header: the mapping's overrides, what evidence shows."""
    browser = report["target"].get("browser")
    if not browser:
        return []
    overridden = browser.get("locators_overridden") or []
    pages = browser.get("pages_overridden") or []
    mapping = (f"{len(overridden)} locators overridden ({', '.join(overridden)})"
               if overridden else "the reference's labels (no locator overridden)")
    if pages:
        mapping += f"; pages overridden: {', '.join(pages)}"
    if browser.get("messages_added"):
        mapping += f"; {browser['messages_added']} refusal message patterns added"
    rows = [("Browser", escape(f"Chromium, every scenario the pages can express; {mapping}"))]
    if browser.get("screenshots"):
        shots = str(browser["screenshots"])
        rows.append(("Evidence", escape(
            f"{shots[:1].upper()}{shots[1:]}. {browser.get('traces') or ''}")))
    return rows


def interleave(scen: dict[str, Any], entry: Callable[[dict[str, Any]], str],
               directory: Path | None) -> str:
    """The trace's items, each screenshot after the call it followed, the rest at the end."""
    shots = list((scen.get("evidence") or {}).get("screenshots", []))
    out = []
    for item in scen["trace"]:
        out.append(entry(item))
        if shots and item["kind"] == "call" and item["text"] == shots[0]["action"]:
            out.append(f"<li>{_figure(shots.pop(0), directory)}</li>")
    out.extend(f"<li>{_figure(shot, directory)}</li>" for shot in shots)
    return "".join(out)


def trace_links(scen: dict[str, Any]) -> str:
    """Links to the Playwright traces a failing scenario kept (`playwright show-trace FILE`)."""
    traces = (scen.get("evidence") or {}).get("traces", [])
    if not traces:
        return ""
    links = ", ".join(f'<a href="{escape(t["file"])}">{escape(t["session"])}</a>'
                      for t in traces)
    return (f"<p><b>Playwright traces</b> (<code>playwright show-trace FILE</code>): {links}</p>")


def _figure(shot: dict[str, Any], directory: Path | None) -> str:
    caption = escape(f"after {shot['action']}{': ' + shot['note'] if shot.get('note') else ''}")
    return (f'<figure class="shot"><img alt="{caption}" src="{_source(shot["file"], directory)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _source(file: str, directory: Path | None) -> str:
    path = (directory / file) if directory is not None else None
    if path is not None and path.is_file():
        return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return escape(file)
