"""The browser target's mapping file: locators, pages and refusal messages, each overridable.

Defaults follow the guide's labels as the reference shows them. A deployment whose labels or
navigation differ overrides any of them in the config file given with `--config`:

    [browser]
    timeout = 10           # seconds to wait for a page (default: [target] timeout)
    executable = "/usr/lib/chromium/chromium"

    [browser.locators]     # NAME = { role = ..., name = ... } | { label = ... } | { text = ... }
    setup_authenticator = { role = "button", name = "Add authenticator" }
    code_field = { css = "#otp" }          # also placeholder, testid, xpath; `within = NAME`
                                           # scopes one locator inside another; exact = false
    [browser.pages]        # where a person types the address when no menu leads there
    security = "/account/security"

    [[browser.messages]]   # tried before the reference's own messages, in order
    pattern = "Invalid verification code.*"    # a regular expression, matched in full
    code = "code_rejected"
    reason = "wrong_code"                      # optional

An alert that no pattern matches is a refusal with code "unknown": a check that wants a
particular code then fails, saying what the page said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets.browser import facts as facts_mod
from clinic2fa.scenarios.targets.browser import flows as flows_mod
from clinic2fa.scenarios.targets.browser.facts import Fact
from clinic2fa.scenarios.targets.browser.flows import Flow

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

KINDS = ("role", "label", "text", "placeholder", "testid", "css", "xpath")
UNKNOWN = "unknown"


def _role(role: str, name: str, within: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"role": role, "name": name}
    if within:
        spec["within"] = within
    return spec


def _fact(term: str) -> dict[str, Any]:
    """The value a description list shows beside a term ("2FA" -> "On")."""
    return {"css": f'dt:text-is("{term}") + dd'}


DEFAULT_LOCATORS: dict[str, dict[str, Any]] = {
    # where a page landed
    "alert": {"role": "alert"},
    "page_body": {"css": "body"},  # the whole page: where a fact's pattern is searched
    "page_sign_in": _role("heading", "Sign in"),
    "page_code": _role("heading", "Enter the 6-digit code"),
    "page_profile": _role("heading", "My Profile"),
    "page_security": _role("heading", "Security"),
    "page_staff": _role("heading", "Staff"),
    "notice_enrol": {"text": "Your clinic requires 2FA", "exact": False},
    "notice_expired": {"text": "Your sign-in expired", "exact": False},
    "notice_signed_out": {"text": "You are signed out.", "exact": False},
    "notice_saved": {"text": "Saved.", "exact": True},
    "notice_disabled": {"text": "Your sign-in now asks only for your password", "exact": False},
    "notice_passkey_added": {"text": "Passkey added.", "exact": True},
    "notice_passkey_removed": {"text": "Passkey removed.", "exact": True},
    "notice_staff_disabled": {"text": "2FA is off for that user", "exact": False},
    # sign-in and the second step
    "sign_in_email": {"label": "Email"},
    "sign_in_password": {"label": "Password"},
    "sign_in_submit": _role("button", "Sign in"),
    "code_field": {"label": "6-digit code"},
    "code_submit": _role("button", "Verify"),
    "use_backup_code": _role("link", "Use a backup code instead"),
    "backup_code_field": {"label": "Backup code"},
    "backup_code_submit": _role("button", "Verify"),
    "use_passkey": _role("button", "Use a passkey instead"),
    # menus
    "main_menu": _role("navigation", "Main"),
    "menu_settings": _role("button", "Settings", "main_menu"),
    "menu_avatar": _role("button", "Avatar", "main_menu"),
    "link_security": _role("link", "Security", "main_menu"),
    "link_staff": _role("link", "Staff", "main_menu"),
    "link_profile": _role("link", "My Profile", "main_menu"),
    "menu_sign_out": _role("button", "Sign out", "main_menu"),
    "sign_out": _role("button", "Sign out"),  # where no menu is (during enrolment)
    # My Profile
    "profile_name": _fact("Name"),
    "profile_email": _fact("Email"),
    "profile_role": _fact("Role"),
    "profile_two_factor": _fact("Two-factor authentication"),
    # Security
    "fact_two_factor": _fact("2FA"),
    "fact_authenticator_app": _fact("Authenticator app"),
    "fact_backup_codes_left": _fact("Backup codes left"),
    "setup_authenticator": _role("button", "Set up authenticator app"),
    "qr_code": _role("img", "QR code"),
    "manual_entry": {"label": "Manual-entry secret"},
    "confirm_form": _role("form", "Confirm enrolment"),
    "confirm_field": {"label": "6-digit code", "within": "confirm_form"},
    "confirm_submit": _role("button", "Confirm", "confirm_form"),
    "backup_codes": _role("list", "Backup codes"),
    # after confirming where backup codes come on request: where the page lands
    "notice_enrolled": _role("list", "Backup codes"),
    "regenerate_form": _role("form", "Regenerate backup codes"),
    "regenerate_password": {"label": "Password", "within": "regenerate_form"},
    "regenerate_submit": _role("button", "Regenerate backup codes", "regenerate_form"),
    "disable_form": _role("form", "Disable 2FA"),
    "disable_password": {"label": "Password", "within": "disable_form"},
    "disable_submit": _role("button", "Disable 2FA", "disable_form"),
    "disable_blocked": {"text": "so it cannot be disabled", "exact": False},
    "enforcement_region": _role("region", "2FA enforcement"),
    "enforcement_required": _role("radio", "Required"),
    "enforcement_optional": _role("radio", "Optional"),
    "enforcement_save": _role("button", "Save", "enforcement_region"),
    # passkeys
    "passkey_names": {"css": ".passkey-name"},
    "passkey_name_field": {"label": "Passkey name"},
    "setup_passkey": _role("button", "Set up passkey"),
    "remove_passkey_form": _role("form", "Remove passkey {name}"),
    "remove_passkey_password": {"label": "Password", "within": "remove_passkey_form"},
    "remove_passkey_submit": _role("button", "Remove", "remove_passkey_form"),
    # Settings -> Staff
    "staff_table": {"role": "table"},
    "staff_email_column": _role("columnheader", "Email"),
    "staff_two_factor_column": _role("columnheader", "2FA"),
    "staff_disable": _role("button", "Disable 2FA"),
}

DEFAULT_PAGES: dict[str, str] = {
    "sign_in": "/sign-in",
    "code": "/sign-in/code",
    "profile": "/profile",
    "security": "/settings/security",
    "setup": "/settings/security/authenticator",  # the setup screen in progress (Back to it)
    "staff": "/settings/staff",
}
# Pages a deployment may name and the reference has none of: where the current backup codes are
# shown again (a deployment that shows them once has no such page; BACKUP-SHOWN-ONCE looks there).
OPTIONAL_PAGES = ("backup_codes",)



@dataclass(frozen=True)
class Message:
    """An alert text (a regular expression, matched in full) and the contract code it means."""

    pattern: re.Pattern[str]
    code: str
    reason: str | None = None


def _m(text: str, code: str, reason: str | None = None, *, prefix: bool = False) -> Message:
    return Message(re.compile(re.escape(text) + (".*" if prefix else ""), re.S), code, reason)


# The reference's messages: stable, each naming one contract code (and reason).
DEFAULT_MESSAGES: tuple[Message, ...] = (
    _m("Wrong email or password.", "invalid_credentials"),
    _m("That code is not valid.", "code_rejected", "wrong_code"),
    _m("That backup code is not valid.", "code_rejected", "wrong_code"),
    _m("The code matches another time: likely time skew on the phone. Sync your phone's clock.",
       "code_rejected", "time_skew"),
    _m("That code was already used. Wait for the next code.", "code_rejected", "already_used"),
    _m("Enter the 6-digit code from your authenticator app.", "code_rejected", "malformed"),
    _m("Too many wrong codes. Try again later.", "locked_out"),
    _m("Too many wrong passwords. Try again later.", "locked_out"),
    _m("Too many failed attempts in a row: ask the clinic's owner or an admin", "locked_out",
       prefix=True),
    _m("Only the owner and admins unblock.", "not_permitted"),
    _m("Re-enter your password.", "password_required"),
    _m("Only the owner changes 2FA enforcement.", "not_permitted"),
    _m("Only the owner and admins see Staff.", "not_permitted"),
    _m("Staff cannot disable 2FA for others.", "not_permitted"),
    _m("Use Settings -> Security -> Disable 2FA for your own account.", "not_permitted"),
    _m("Only the owner's own account can change the owner's 2FA.", "not_permitted"),
    _m("The form expired or came from another site.", "not_permitted", prefix=True),
    _m("No such user in this clinic.", "unknown_user"),
    _m("The owner requires 2FA for everyone; it cannot be disabled.", "enforced"),
    _m("The owner requires 2FA: add another passkey", "enforced", prefix=True),
    _m("The owner requires 2FA: set up an authenticator app first.", "enrolment_required"),
    _m("2FA is not on.", "not_enrolled"),
    _m("No authenticator app is set up.", "not_enrolled"),
    _m("No passkey is set up.", "not_enrolled"),
    _m("No passkey has that name.", "not_enrolled"),
    _m("An authenticator app is already set up; disable 2FA first.", "already_enrolled"),
    _m('Click "Set up authenticator app" first.', "no_setup_in_progress"),
    _m("Sign in first.", "not_signed_in"),
    _m("The sign-in expired; sign in again.", "sign_in_expired"),
    _m("Enter the 6-digit code first.", "second_step_required"),
    _m("The second step is already passed.", "invalid_request"),
    _m("Give the passkey a name you have not used yet.", "invalid_request"),
    _m("Fill in every field.", "invalid_request"),
    _m("That passkey is already registered.", "passkey_invalid"),
    _m("That passkey is not registered to this account.", "passkey_unknown_credential"),
    _m("The passkey's sign count did not increase", "passkey_sign_count", prefix=True),
    _m("The passkey request expired or was already used; start again.",
       "passkey_challenge_invalid"),
    _m("The passkey answered another challenge.", "passkey_challenge_invalid"),
    _m("The passkey was used on ", "passkey_origin_mismatch", prefix=True),
    _m("The passkey belongs to another site", "passkey_rp_id_mismatch", prefix=True),
    _m("The clinic requires the passkey to verify you", "passkey_user_verification",
       prefix=True),
    _m("Nobody was present at the passkey.", "passkey_invalid"),
    _m("The passkey response is malformed.", "passkey_invalid"),
    _m("The passkey's id and rawId differ.", "passkey_invalid"),
)


@dataclass(frozen=True)
class Spec:
    """How to find one element: a Playwright locator in a person's terms, or CSS/XPath."""

    kind: str
    value: str
    name: str | None = None  # the accessible name, for role
    exact: bool = True
    within: str | None = None  # another locator's NAME to search inside


@dataclass(frozen=True)
class Mapping:
    """Everything the browser target looks for on a deployment's pages."""

    locators: dict[str, Spec]
    pages: dict[str, str]
    messages: tuple[Message, ...]
    timeout: float | None = None
    executable: str | None = None
    overridden: dict[str, list[str]] = field(default_factory=dict)  # table -> names
    flows: dict[str, Flow] = field(default_factory=dict)  # action -> how it is done here
    facts: dict[str, Fact] = field(default_factory=dict)  # fact -> how it is read here

    def locate(self, root: Page | Locator, key: str | Spec, **fill: str) -> Locator:
        """The Playwright locator called `key` (or given inline); "{name}" in its text is
        filled from `fill`."""
        spec = self.locators[key] if isinstance(key, str) else key
        if spec.within:
            root = self.locate(root, spec.within, **fill)
        return _build(root, spec, fill)

    def refusal(self, text: str) -> tuple[str, str | None]:
        """The contract's (code, reason) for an alert's text; ("unknown", None) if none fits."""
        said = " ".join(text.split())
        for message in self.messages:
            if message.pattern.fullmatch(said):
                return message.code, message.reason
        return UNKNOWN, None

    def describe(self) -> dict[str, Any]:
        """For the report: what the mapping changed from the reference's labels."""
        return {"scope": "all",  # every scenario the pages can express (report 1.2)
                "locators_overridden": self.overridden.get("locators", []),
                "pages_overridden": self.overridden.get("pages", []),
                "messages_added": len(self.messages) - len(DEFAULT_MESSAGES),
                "flows": sorted(self.flows), "facts": sorted(self.facts)}


def _build(root: Page | Locator, spec: Spec, fill: dict[str, str]) -> Locator:
    value, name = _fill(spec.value, fill), _fill(spec.name, fill) if spec.name else None
    if spec.kind == "role":
        return root.get_by_role(value, name=name, exact=spec.exact)  # type: ignore[arg-type]
    if spec.kind == "label":
        return root.get_by_label(value, exact=spec.exact)
    if spec.kind == "text":
        return root.get_by_text(value, exact=spec.exact)
    if spec.kind == "placeholder":
        return root.get_by_placeholder(value, exact=spec.exact)
    if spec.kind == "testid":
        return root.get_by_test_id(value)
    if spec.kind == "xpath":
        return root.locator(f"xpath={value}")
    return root.locator(value)


def _fill(text: str, fill: dict[str, str]) -> str:
    for key, value in fill.items():
        text = text.replace("{" + key + "}", value)
    return text


# -- reading the config's [browser] table -------------------------------------------------------

_BROWSER_KEYS = {"timeout", "executable", "locators", "pages", "messages", "flows", "facts",
                 "module"}


def parse(table: dict[str, Any], where: str = "config", base: Path | None = None) -> Mapping:
    """The mapping from a config's [browser] table (may be empty); UsageError on a mistake.

    `base`: the config file's folder, where a flows module is found.
    """
    if "scope" in table:
        raise UsageError(f"{where}: [browser] scope is gone: every scenario the pages can "
                         "express runs (choose some with --select)")
    unknown = sorted(set(table) - _BROWSER_KEYS)
    if unknown:
        raise UsageError(f"{where}: [browser] has an unknown key {unknown[0]!r}")
    timeout = table.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or timeout <= 0):
        raise UsageError(f"{where}: [browser] timeout must be a positive number of seconds")
    executable = table.get("executable")
    if executable is not None and not isinstance(executable, str):
        raise UsageError(f"{where}: [browser] executable must be a path")
    given = _subtable(table, "locators", where)
    locators = {name: _spec(raw, f"{where} [browser.locators] {name}")
                for name, raw in {**DEFAULT_LOCATORS, **given}.items()}
    for name, spec in locators.items():
        if spec.within and spec.within not in locators:
            raise UsageError(f"{where}: [browser.locators] {name}: within names no locator "
                             f"{spec.within!r}")
    pages_given = _subtable(table, "pages", where)
    for name, path in pages_given.items():
        if name not in (*DEFAULT_PAGES, *OPTIONAL_PAGES) or not isinstance(path, str) \
                or not path.startswith("/"):
            raise UsageError(f"{where}: [browser.pages] {name}: expected one of "
                             f"{', '.join((*DEFAULT_PAGES, *OPTIONAL_PAGES))} = \"/path\"")
    messages = tuple(_message(raw, f"{where} [[browser.messages]] #{n}")
                     for n, raw in enumerate(_list(table, "messages", where), 1))
    module = table.get("module")
    if module is not None and not isinstance(module, str):
        raise UsageError(f"{where}: [browser] module must be a file name like \"flows.py\"")
    known = set(locators)
    flows = flows_mod.parse(table.get("flows", {}), where, _spec, known,
                            (base or Path.cwd()) / module if module else None)
    facts = facts_mod.parse(table.get("facts", {}), where, _spec, known)
    used = _names_used(flows, facts)
    unknown_names = sorted(set(given) - set(DEFAULT_LOCATORS) - used)
    if unknown_names:
        raise UsageError(f"{where}: [browser.locators] {unknown_names[0]} is no locator the "
                         "browser target uses and no flow or fact names it (known: "
                         "scenarios/targets/browser/locators.py)")
    return Mapping(locators, {**DEFAULT_PAGES, **pages_given}, messages + DEFAULT_MESSAGES,
                   float(timeout) if timeout else None, executable,
                   {"locators": sorted(given), "pages": sorted(pages_given)}, flows, facts)


def _names_used(flows: dict[str, Flow], facts: dict[str, Fact]) -> set[str]:
    """The locator names flows and facts refer to (and those they search within)."""
    named = [w for f in flows.values() for s in f.steps for w in (s.what, s.when, s.unless)]
    named += [w for f in facts.values() for w in (f.what, f.within)]
    return {w for w in named if isinstance(w, str)}


def _subtable(table: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise UsageError(f"{where}: [browser.{key}] must be a table")
    return value


def _list(table: dict[str, Any], key: str, where: str) -> list[Any]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise UsageError(f"{where}: browser.{key} must be an array of tables ([[browser.{key}]])")
    return value


def _spec(raw: Any, where: str) -> Spec:
    if isinstance(raw, str):
        raw = {"css": raw}
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: expected a table like {{ role = \"button\", name = ... }}")
    kinds = [k for k in KINDS if k in raw]
    extra = sorted(set(raw) - set(KINDS) - {"name", "exact", "within"})
    if len(kinds) != 1 or extra:
        raise UsageError(f"{where}: give exactly one of {', '.join(KINDS)} "
                         f"(plus name, exact, within)")
    kind = kinds[0]
    values = [raw[kind], raw.get("name", ""), raw.get("within", "")]
    if not all(isinstance(v, str) for v in values) or not isinstance(raw.get("exact", True), bool):
        raise UsageError(f"{where}: values must be strings (exact: true or false)")
    return Spec(kind, raw[kind], raw.get("name") or None, raw.get("exact", True),
                raw.get("within") or None)


def _message(raw: Any, where: str) -> Message:
    if not isinstance(raw, dict) or set(raw) - {"pattern", "code", "reason"} \
            or not isinstance(raw.get("pattern"), str) or not isinstance(raw.get("code"), str):
        raise UsageError(f"{where}: expected pattern = \"...\", code = \"...\" (reason optional)")
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise UsageError(f"{where}: reason must be a string")
    try:
        pattern = re.compile(raw["pattern"], re.S)
    except re.error as exc:
        raise UsageError(f"{where}: the pattern is not a regular expression: {exc}") from None
    return Message(pattern, raw["code"], reason)


DEFAULT = parse({})
