"""What a page says about 2FA, read the way the deployment says it: presence, words, numbers.

    [browser.facts]                    # on the Security page (the `security` flow's end)
    two_factor = { present = { text = "Primary method", exact = false } }
    authenticator_app = { present = { role = "link", name = "Deactivate" } }
    backup_codes_left = { pattern = "You have (\\\\d+) unused recovery codes" }
    passkeys = { list = { css = "table.keys td:first-child" } }
    enforcement_required = { absent = { text = "Optional" } }

A fact is read by one of: `present` (true when the locator shows), `absent` (true when it does
not), `yes` (the locator's text is a yes-word: on, yes, enabled, set up, ...), `number` (the
digits in the locator's text), `count` (how many it finds: a page that lists the backup codes
left instead of saying how many), `list` (the texts of all it finds), or `pattern` (a regular
expression searched in the text of `in`, the whole page by default: a yes/no fact is true
when it matches, a number is its first group, 0 without a match). `page = "/path"` reads it on
another page. Without a [browser.facts] entry the reference's way is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clinic2fa.scenarios.errors import UsageError

if TYPE_CHECKING:
    from playwright.sync_api import Locator

# Facts and what they are: a yes/no, a number or a list of names.
KINDS_OF: dict[str, str] = {
    "two_factor": "bool", "authenticator_app": "bool", "backup_codes_left": "int",
    "passkeys": "list", "enforcement_required": "bool", "profile_two_factor": "bool",
}
READERS = ("present", "absent", "yes", "number", "count", "list", "pattern")
_FITS = {"bool": ("present", "absent", "yes", "pattern"), "int": ("number", "pattern", "count"),
         "list": ("list", "pattern")}
TRUE_WORDS = ("on", "yes", "enabled", "set up", "true", "required", "active", "activated")


@dataclass(frozen=True)
class Fact:
    name: str
    reader: str
    what: Any  # a locator (name or Spec), or a compiled pattern
    within: Any = "page_body"  # where a pattern is searched
    page: str | None = None


def yes(text: str) -> bool:
    return text.strip().lower() in TRUE_WORDS


def digits(text: str) -> int:
    found = re.sub(r"\D", "", text)
    return int(found) if found else 0


def read(fact: Fact, locate: Callable[[Any], Locator]) -> Any:
    """The fact's value on the page now."""
    kind = KINDS_OF[fact.name]
    if fact.reader == "pattern":
        text = " ".join(locate(fact.within).first.inner_text().split())
        if kind == "list":
            return tuple(fact.what.findall(text))
        match = fact.what.search(text)
        if kind == "bool":
            return match is not None
        return int(match.group(1)) if match and match.groups() else 0
    found = locate(fact.what)
    shown = found.filter(visible=True)
    if fact.reader == "present":
        return shown.count() > 0
    if fact.reader == "absent":
        return shown.count() == 0
    if fact.reader == "count":
        return shown.count()
    if fact.reader == "list":
        return tuple(t.strip() for t in shown.all_inner_texts() if t.strip())
    text = shown.first.inner_text() if shown.count() else ""
    return yes(text) if fact.reader == "yes" else digits(text)


def parse(table: Any, where: str, spec: Callable[[Any, str], Any], known: set[str]
          ) -> dict[str, Fact]:
    """[browser.facts]: each fact read one way; a mistake is one line naming the fact."""
    if not isinstance(table, dict):
        raise UsageError(f"{where}: [browser.facts] must be a table")
    facts = {}
    for name, raw in table.items():
        at = f"{where} [browser.facts] {name}"
        if name not in KINDS_OF:
            raise UsageError(f"{at}: no such fact (known: {', '.join(KINDS_OF)})")
        if not isinstance(raw, dict):
            raise UsageError(f"{at}: must be a table like {{ present = \"...\" }}")
        readers = [r for r in READERS if r in raw]
        extra = sorted(set(raw) - set(READERS) - {"in", "page"})
        if len(readers) != 1 or extra:
            raise UsageError(f"{at}: give exactly one of {', '.join(READERS)} (plus in, page)")
        reader = readers[0]
        if reader not in _FITS[KINDS_OF[name]]:
            raise UsageError(f"{at}: {name} is a {KINDS_OF[name]}; read it with "
                             f"{' or '.join(_FITS[KINDS_OF[name]])}")
        page = raw.get("page")
        if page is not None and (not isinstance(page, str) or not page.startswith("/")):
            raise UsageError(f"{at}: page must be a path like \"/account/security\"")
        within: Any = "page_body"
        if reader == "pattern":
            what = _pattern(raw["pattern"], name, at)
            if "in" in raw:
                within = _locator(raw["in"], f"{at} in", spec, known)
        else:
            if "in" in raw:
                raise UsageError(f"{at}: in goes with pattern")
            what = _locator(raw[reader], f"{at} {reader}", spec, known)
        facts[name] = Fact(name, reader, what, within, page)
    return facts


def _pattern(raw: Any, name: str, at: str) -> re.Pattern[str]:
    try:
        pattern = re.compile(raw, re.I)
    except (re.error, TypeError):
        raise UsageError(f"{at}: pattern is not a regular expression") from None
    if KINDS_OF[name] == "int" and pattern.groups < 1:
        raise UsageError(f"{at}: a number's pattern needs a group, like \"You have (\\d+)\"")
    return pattern


def _locator(raw: Any, at: str, spec: Callable[[Any, str], Any], known: set[str]) -> Any:
    if isinstance(raw, str):
        if raw not in known:
            raise UsageError(f"{at}: {raw!r} names no locator")
        return raw
    return spec(raw, at)
