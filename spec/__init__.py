"""The guide's items and the requirements they imply, loaded and cross-checked from TOML."""

from __future__ import annotations

import functools
import re
import textwrap
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

Kind = Literal["step", "outcome", "troubleshooting"]
Level = Literal["MUST", "SHOULD"]

KINDS: tuple[str, ...] = get_args(Kind)
LEVELS: tuple[str, ...] = get_args(Level)
SOURCES: tuple[str, ...] = (
    "RFC 6238",
    "RFC 4226",
    "NIST SP 800-63B",
    "OWASP ASVS 5.0",
    "WebAuthn Level 3",
    "Guide",
)
# Stable IDs are upper-case words joined by hyphens (STEP-1, TOTP-WINDOW): easy to grep, quote in
# reports and type into a CLI filter.
ID_PATTERN = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+")
PARAPHRASE_PREFIX = "Paraphrase:"

GUIDE_FILE = "guide.toml"
REQUIREMENTS_FILE = "requirements.toml"

_TROUBLE_FIELDS = ("symptom", "cause", "fix")
_ITEM_REQUIRED = ("id", "kind", "title", "text", "screen")
_REQ_REQUIRED = ("id", "level", "title", "statement", "source", "section", "source_text", "serves")
_REQ_OPTIONAL = ("notes", "parameters")
# A parameter's name is a Python-style identifier (lockout_seconds), so code can name it as is.
PARAMETER_NAME = re.compile(r"[a-z][a-z0-9_]*")
_PARAM_REQUIRED = ("value", "fixed", "reason")
_PARAM_BOUNDS = ("min", "max", "allowed", "pattern")
_PARAM_OPTIONAL = ("unit", *_PARAM_BOUNDS)

Value = int | str


class SpecError(ValueError):
    """The spec files are inconsistent; the message is one line and names the offending ID."""


@dataclass(frozen=True)
class GuideItem:
    """One item of the guide in its own words, so scenarios can cite exactly what they check."""

    id: str
    kind: Kind
    title: str
    text: str
    screen: str
    symptom: str | None = None
    cause: str | None = None
    fix: str | None = None


@dataclass(frozen=True)
class Parameter:
    """A number (or name) a requirement depends on: the reference's value and who may change it.

    `fixed`: the guide, a standard or the statement sets it; every deployment uses `value`.
    Otherwise it is the deployment's own choice within the bounds (`min`/`max` for a number,
    `allowed` values, or a `pattern` a name must match) and `value` is the reference's choice.
    """

    requirement: str
    name: str
    value: Value
    fixed: bool
    reason: str
    unit: str = ""
    min: int | None = None
    max: int | None = None
    allowed: tuple[Value, ...] = ()
    pattern: str | None = None

    @property
    def number(self) -> int:
        """The value, for code that needs a number; SpecError naming the parameter if not."""
        if not isinstance(self.value, int):
            raise SpecError(f"{self.requirement}: parameter {self.name!r} is not a number")
        return self.value

    @property
    def text(self) -> str:
        """The value, for code that needs a name; SpecError naming the parameter if not."""
        if not isinstance(self.value, str):
            raise SpecError(f"{self.requirement}: parameter {self.name!r} is not a string")
        return self.value

    def allows(self, value: object) -> bool:
        """Whether a deployment may use `value` here (a fixed parameter allows only its own)."""
        if isinstance(value, bool) or type(value) is not type(self.value):
            return False
        if self.fixed:
            return value == self.value
        if isinstance(value, int) and (
            (self.min is not None and value < self.min)
            or (self.max is not None and value > self.max)
        ):
            return False
        if self.allowed and value not in self.allowed:
            return False
        return not (
            self.pattern is not None
            and isinstance(value, str)
            and re.fullmatch(self.pattern, value) is None
        )

    @property
    def bounds(self) -> str:
        """What a deployment may choose, in a few words: "fixed", "1..100", ">= 16", ..."""
        if self.fixed:
            return "fixed"
        said = []
        if self.min is not None and self.max is not None:
            said.append(f"{self.min}..{self.max}")
        elif self.min is not None:
            said.append(f">= {self.min}")
        elif self.max is not None:
            said.append(f"<= {self.max}")
        if self.allowed:
            said.append("one of " + ", ".join(_shown(v) for v in self.allowed))
        if self.pattern is not None:
            said.append(f"matching {self.pattern}")
        return ", ".join(said)

    def to_dict(self) -> dict[str, Any]:
        """The parameter as JSON-ready data, without the requirement and name it is filed under."""
        return {
            "value": self.value,
            "fixed": self.fixed,
            "unit": self.unit,
            "min": self.min,
            "max": self.max,
            "allowed": list(self.allowed),
            "pattern": self.pattern,
            "reason": self.reason,
        }


def _shown(value: Value) -> str:
    return f"{value!r}" if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Requirement:
    """What a conforming deployment does, why (source), and which guide items it makes true."""

    id: str
    level: Level
    title: str
    statement: str
    source: str
    section: str
    source_text: str
    serves: tuple[str, ...]
    notes: str = ""
    parameters: Mapping[str, Parameter] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    @property
    def citation(self) -> str:
        """Source and section as one would cite them, e.g. "RFC 6238 s5.2"."""
        return f"{self.source} {self.section}"

    @property
    def is_paraphrase(self) -> bool:
        """True when source_text is our paraphrase rather than the source's exact words."""
        return self.source_text.startswith(PARAPHRASE_PREFIX)


@dataclass(frozen=True)
class Spec:
    """The whole spec, validated: every ID unique, every reference resolved."""

    guide_items: tuple[GuideItem, ...]
    requirements: tuple[Requirement, ...]
    _items_by_id: dict[str, GuideItem] = field(init=False, repr=False, compare=False)
    _reqs_by_id: dict[str, Requirement] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_items_by_id", {i.id: i for i in self.guide_items})
        object.__setattr__(self, "_reqs_by_id", {r.id: r for r in self.requirements})

    def item(self, item_id: str) -> GuideItem:
        """The guide item with this ID; KeyError if there is none."""
        try:
            return self._items_by_id[item_id]
        except KeyError:
            raise KeyError(f"no guide item {item_id!r}") from None

    def requirement(self, req_id: str) -> Requirement:
        """The requirement with this ID; KeyError if there is none."""
        try:
            return self._reqs_by_id[req_id]
        except KeyError:
            raise KeyError(f"no requirement {req_id!r}") from None

    def parameter(self, req_id: str, name: str) -> Parameter:
        """One parameter of one requirement; KeyError naming both if there is none."""
        try:
            return self.requirement(req_id).parameters[name]
        except KeyError:
            raise KeyError(f"no parameter {name!r} on requirement {req_id!r}") from None

    def all_parameters(self) -> tuple[Parameter, ...]:
        """Every requirement's parameters, in file order."""
        return tuple(p for r in self.requirements for p in r.parameters.values())

    def all_ids(self) -> tuple[str, ...]:
        """Every ID in file order, guide items first."""
        return tuple(i.id for i in self.guide_items) + tuple(r.id for r in self.requirements)

    def items_of_kind(self, kind: Kind) -> tuple[GuideItem, ...]:
        """The guide items of one kind, in guide order."""
        return tuple(i for i in self.guide_items if i.kind == kind)

    def requirements_serving(self, item_id: str) -> tuple[Requirement, ...]:
        """The requirements that make this guide item true; KeyError for an unknown item."""
        self.item(item_id)
        return tuple(r for r in self.requirements if item_id in r.serves)

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """Plain lists and dicts, ready for json.dumps (e.g. `clinic2fa spec --json`)."""
        return {
            "guide_items": [asdict(i) for i in self.guide_items],
            "requirements": [_requirement_dict(r) for r in self.requirements],
        }


def _requirement_dict(req: Requirement) -> dict[str, Any]:
    fields = {name: getattr(req, name) for name in (*_REQ_REQUIRED, *_REQ_OPTIONAL)}
    return {
        **fields,
        "serves": list(req.serves),
        "parameters": {name: p.to_dict() for name, p in req.parameters.items()},
    }


# -- parsing and validation ---------------------------------------------------------------------


def _table_list(doc: dict[str, Any], key: str, filename: str) -> list[dict[str, Any]]:
    """The array of tables under `key`, the only top-level content either file may have."""
    extra = sorted(set(doc) - {key})
    if extra:
        raise SpecError(f"{filename}: unexpected top-level key {extra[0]!r} (only [[{key}]])")
    entries = doc.get(key)
    if not isinstance(entries, list) or not entries:
        raise SpecError(f"{filename}: no [[{key}]] entries")
    if not all(isinstance(e, dict) for e in entries):
        raise SpecError(f"{filename}: {key!r} must be an array of tables ([[{key}]])")
    return entries


def _entry_id(entry: dict[str, Any], index: int, filename: str) -> str:
    """The entry's ID, checked for form, so every later message can name it."""
    entry_id = entry.get("id")
    if not isinstance(entry_id, str) or not ID_PATTERN.fullmatch(entry_id):
        raise SpecError(f"{filename}: entry #{index + 1} has a missing or bad id {entry_id!r}")
    return entry_id


def _check_fields(
    entry: dict[str, Any], entry_id: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    """Required fields present, no unknown ones (a typo like `serve` must not pass silently)."""
    unknown = sorted(set(entry) - set(required) - set(optional))
    if unknown:
        raise SpecError(f"{entry_id}: unknown field {unknown[0]!r}")
    for name in (*required, *optional):
        if name not in entry:
            if name in required:
                raise SpecError(f"{entry_id}: missing field {name!r}")
            continue
        value = entry[name]
        if name in ("serves", "parameters"):
            continue
        if not isinstance(value, str) or (name in required and not value.strip()):
            raise SpecError(f"{entry_id}: field {name!r} must be a non-empty string")


def _parse_item(entry: dict[str, Any], entry_id: str) -> GuideItem:
    _check_fields(entry, entry_id, _ITEM_REQUIRED, _TROUBLE_FIELDS)
    kind = entry["kind"]
    if kind not in KINDS:
        raise SpecError(f"{entry_id}: kind {kind!r} is not one of {', '.join(KINDS)}")
    present = [f for f in _TROUBLE_FIELDS if f in entry]
    if kind == "troubleshooting":
        missing = [f for f in _TROUBLE_FIELDS if not entry.get(f, "").strip()]
        if missing:
            raise SpecError(f"{entry_id}: troubleshooting item needs {missing[0]!r}")
    elif present:
        raise SpecError(f"{entry_id}: {present[0]!r} belongs only to troubleshooting items")
    return GuideItem(
        id=entry_id,
        kind=cast(Kind, kind),
        title=entry["title"],
        text=entry["text"],
        screen=entry["screen"],
        symptom=entry.get("symptom"),
        cause=entry.get("cause"),
        fix=entry.get("fix"),
    )


def _parse_requirement(entry: dict[str, Any], entry_id: str) -> Requirement:
    _check_fields(entry, entry_id, _REQ_REQUIRED, _REQ_OPTIONAL)
    level = entry["level"]
    if level not in LEVELS:
        raise SpecError(f"{entry_id}: level {level!r} is not one of {', '.join(LEVELS)}")
    if entry["source"] not in SOURCES:
        raise SpecError(f"{entry_id}: source {entry['source']!r} is not a known source")
    serves = entry["serves"]
    if not isinstance(serves, list) or not serves or not all(isinstance(s, str) for s in serves):
        raise SpecError(f"{entry_id}: serves must be a non-empty list of guide item IDs")
    if len(set(serves)) != len(serves):
        raise SpecError(f"{entry_id}: serves lists a guide item twice")
    return Requirement(
        id=entry_id,
        level=cast(Level, level),
        title=entry["title"],
        statement=entry["statement"],
        source=entry["source"],
        section=entry["section"],
        source_text=entry["source_text"],
        serves=tuple(serves),
        notes=entry.get("notes", ""),
        parameters=_parse_parameters(entry["parameters"], entry_id)
        if "parameters" in entry else MappingProxyType({}),
    )


def _parse_parameters(table: Any, req_id: str) -> Mapping[str, Parameter]:
    """The requirement's `parameters` table: one sub-table per parameter, each checked."""
    if not isinstance(table, dict) or not table:
        raise SpecError(f"{req_id}: parameters must be a table of parameter tables")
    parsed = {}
    for name, entry in table.items():
        if not PARAMETER_NAME.fullmatch(name):
            raise SpecError(f"{req_id}: parameter {name!r}: the name is not snake_case")
        if not isinstance(entry, dict):
            raise SpecError(f"{req_id}: parameter {name!r} must be a table")
        parsed[name] = _parse_parameter(entry, req_id, name)
    return MappingProxyType(parsed)


def _parse_parameter(entry: dict[str, Any], req_id: str, name: str) -> Parameter:
    where = f"{req_id}: parameter {name!r}"
    unknown = sorted(set(entry) - set(_PARAM_REQUIRED) - set(_PARAM_OPTIONAL))
    if unknown:
        raise SpecError(f"{where}: unknown field {unknown[0]!r}")
    missing = [f for f in _PARAM_REQUIRED if f not in entry]
    if missing:
        raise SpecError(f"{where}: missing field {missing[0]!r}")
    value, fixed = entry["value"], entry["fixed"]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SpecError(f"{where}: value must be an integer or a string")
    if not isinstance(fixed, bool):
        raise SpecError(f"{where}: fixed must be true or false")
    for text in ("reason", "unit"):
        if text in entry and (not isinstance(entry[text], str) or not entry[text].strip()):
            raise SpecError(f"{where}: field {text!r} must be a non-empty string")
    bounds = [b for b in _PARAM_BOUNDS if b in entry]
    if fixed and bounds:
        raise SpecError(f"{where}: a fixed parameter has no bounds, but {bounds[0]!r} is given")
    if not fixed and not bounds:
        raise SpecError(f"{where}: a parameter that is not fixed needs bounds (min, max, "
                        "allowed or pattern)")
    parameter = Parameter(
        requirement=req_id,
        name=name,
        value=value,
        fixed=fixed,
        reason=entry["reason"],
        unit=entry.get("unit", ""),
        min=_limit(entry, "min", value, where),
        max=_limit(entry, "max", value, where),
        allowed=_allowed(entry, value, where),
        pattern=_pattern(entry, value, where),
    )
    if parameter.min is not None and parameter.max is not None and parameter.min > parameter.max:
        raise SpecError(f"{where}: min {parameter.min} is above max {parameter.max}")
    if not parameter.allows(value):
        raise SpecError(f"{where}: value {_shown(value)} is outside its own bounds "
                        f"({parameter.bounds})")
    return parameter


def _limit(entry: dict[str, Any], key: str, value: Value, where: str) -> int | None:
    if key not in entry:
        return None
    limit = entry[key]
    if isinstance(value, str):
        raise SpecError(f"{where}: {key!r} bounds a number, but the value is a string")
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise SpecError(f"{where}: {key!r} must be an integer")
    return limit


def _allowed(entry: dict[str, Any], value: Value, where: str) -> tuple[Value, ...]:
    if "allowed" not in entry:
        return ()
    allowed = entry["allowed"]
    if (not isinstance(allowed, list) or not allowed
            or not all(type(a) is type(value) for a in allowed)):
        raise SpecError(f"{where}: allowed must be a non-empty list of values like value's")
    if len(set(allowed)) != len(allowed):
        raise SpecError(f"{where}: allowed lists a value twice")
    return tuple(allowed)


def _pattern(entry: dict[str, Any], value: Value, where: str) -> str | None:
    if "pattern" not in entry:
        return None
    pattern = entry["pattern"]
    if not isinstance(value, str):
        raise SpecError(f"{where}: pattern bounds a string, but the value is a number")
    if not isinstance(pattern, str) or not pattern:
        raise SpecError(f"{where}: pattern must be a non-empty regular expression")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SpecError(f"{where}: pattern is not a regular expression: {exc}") from None
    return pattern


def _load_toml(text: str, filename: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{filename}: invalid TOML: {exc}") from exc


def parse(guide_toml: str, requirements_toml: str) -> Spec:
    """Build a Spec from the two files' text, or raise SpecError naming the first bad ID.

    Separate from load() so tests can feed it deliberately broken input.
    """
    guide_doc = _load_toml(guide_toml, GUIDE_FILE)
    req_doc = _load_toml(requirements_toml, REQUIREMENTS_FILE)

    seen: dict[str, str] = {}

    def claim(entry_id: str, filename: str) -> None:
        if entry_id in seen:
            where = filename if seen[entry_id] == filename else f"{seen[entry_id]} and {filename}"
            raise SpecError(f"duplicate ID {entry_id!r} ({where})")
        seen[entry_id] = filename

    items = []
    for index, entry in enumerate(_table_list(guide_doc, "item", GUIDE_FILE)):
        entry_id = _entry_id(entry, index, GUIDE_FILE)
        claim(entry_id, GUIDE_FILE)
        items.append(_parse_item(entry, entry_id))

    requirements = []
    for index, entry in enumerate(_table_list(req_doc, "requirement", REQUIREMENTS_FILE)):
        entry_id = _entry_id(entry, index, REQUIREMENTS_FILE)
        claim(entry_id, REQUIREMENTS_FILE)
        requirements.append(_parse_requirement(entry, entry_id))

    item_ids = {i.id for i in items}
    for req in requirements:
        for target in req.serves:
            if target not in item_ids:
                raise SpecError(f"{req.id}: serves unknown guide item {target!r}")

    return Spec(guide_items=tuple(items), requirements=tuple(requirements))


@functools.cache
def load() -> Spec:
    """The packaged spec (spec/guide.toml, spec/requirements.toml), parsed once per process."""
    package = resources.files(__name__)
    return parse(
        package.joinpath(GUIDE_FILE).read_text(encoding="utf-8"),
        package.joinpath(REQUIREMENTS_FILE).read_text(encoding="utf-8"),
    )


# -- listing ------------------------------------------------------------------------------------

_KIND_HEADINGS: dict[str, str] = {
    "step": "Steps",
    "outcome": "Expected outcome",
    "troubleshooting": "Troubleshooting",
}
_WIDTH = 100
_INDENT = " " * 4


def _wrapped(label: str, value: str) -> list[str]:
    """One labelled field, wrapped to the listing width without splitting hyphenated IDs."""
    return textwrap.wrap(
        f"{label}: {value}",
        width=_WIDTH,
        initial_indent=_INDENT,
        subsequent_indent=_INDENT + "  ",
        break_on_hyphens=False,
        break_long_words=False,
    )


def _heading(text: str) -> list[str]:
    """An entry's first line (ID and title), wrapped like the fields below it."""
    return textwrap.wrap(
        text,
        width=_WIDTH,
        initial_indent="  ",
        subsequent_indent=_INDENT,
        break_on_hyphens=False,
        break_long_words=False,
    )


def _brief(parameter: Parameter) -> str:
    """A parameter in a listing: `window = 1 steps each way (0..1)`."""
    unit = f" {parameter.unit}" if parameter.unit else ""
    return f"{parameter.name} = {_shown(parameter.value)}{unit} ({parameter.bounds})"


def format_listing(spec: Spec) -> str:
    """Plain-text listing for `clinic2fa spec`: guide items by kind, then the requirements."""
    lines = [f"Guide: {len(spec.guide_items)} items"]
    for kind in KINDS:
        group = spec.items_of_kind(cast(Kind, kind))
        lines += ["", f"{_KIND_HEADINGS[kind]} ({len(group)})"]
        for item in group:
            lines += _heading(f"{item.id}  {item.title}")
            if item.kind == "troubleshooting":
                lines += _wrapped("symptom", item.symptom or "")
                lines += _wrapped("cause", item.cause or "")
                lines += _wrapped("fix", item.fix or "")
            else:
                lines += _wrapped("text", item.text)
            lines += _wrapped("screen", item.screen)
            served_by = [r.id for r in spec.requirements_serving(item.id)]
            lines += _wrapped("served by", ", ".join(served_by) or "(no requirement)")

    counts = {level: sum(r.level == level for r in spec.requirements) for level in LEVELS}
    summary = ", ".join(f"{n} {level}" for level, n in counts.items())
    lines += ["", f"Requirements ({len(spec.requirements)}: {summary})"]
    for req in spec.requirements:
        lines += _heading(f"{req.id}  [{req.level}]  {req.title}")
        lines += _wrapped("statement", req.statement)
        lines += _wrapped("source", req.citation)
        lines += _wrapped("serves", ", ".join(req.serves))
        if req.parameters:
            lines += _wrapped("parameters", "; ".join(_brief(p) for p in req.parameters.values()))
    return "\n".join(lines) + "\n"


__all__ = [
    "KINDS",
    "LEVELS",
    "SOURCES",
    "GuideItem",
    "Kind",
    "Level",
    "Parameter",
    "Requirement",
    "Spec",
    "SpecError",
    "Value",
    "format_listing",
    "load",
    "parse",
]
