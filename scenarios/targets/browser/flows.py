"""How a person does an action on a deployment's pages, when it is not the reference's way.

A flow replaces the browser target's own navigation and typing for one action; what the page
shows afterwards (the page the action leads to, a refusal, the codes) is read as always. In the
config, a flow is a list of steps:

    [browser.flows]
    start_authenticator_setup = [
      { goto = "/accounts/2fa/" },
      { click = { role = "link", name = "Activate" } },
      { fill = "reauth_password", value = "{password}", when = "reauth_password" },
      { submit = { role = "button", name = "Confirm" }, when = "reauth_password" },
      { wait = "qr_code" },
    ]

Each step has one verb: `goto` (a path on the site), `click`, `submit` (a form's button: the
browser's own validation first, then the page it loads), `fill` (with `value`), `tick`,
`untick`, `wait` (until a locator shows) or `wait_url` (a regular expression the address
matches). A locator is a name from [browser.locators] or a table like them. `when = LOCATOR`
runs a step only if that shows now (a re-authentication prompt that comes and goes), `unless`
only if it does not (go to the setup page unless its form is already there);
`optional = true` skips it if its own locator is not there. `value` may use the action's
values: {email} and {password} (of whoever signs in, or is signed in: a re-authentication
prompt asks for it), {code}, {name} (a passkey's), {subject} (whose 2FA an admin disables).

What TOML cannot say, a Python module can (`[browser] module = "flows.py"`, next to the config):
one function per action, named after it, given Playwright's page and the action's values:

    def disable_2fa(page, password):
        page.goto("/accounts/2fa/totp/deactivate/")
        page.get_by_label("I understand").check()
        page.get_by_role("button", name="Deactivate").click()
"""

from __future__ import annotations

import importlib.util
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from clinic2fa.scenarios.errors import UsageError

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

# Every action a flow may describe, and the values its steps may use.
_ASKED_AGAIN = ("password",)  # every signed-in action: a re-authentication prompt may ask it
ACTIONS: dict[str, tuple[str, ...]] = {
    "sign_in": ("email", "password"),
    "enter_code": ("code",),
    "use_backup_code": ("code",),
    "sign_out": _ASKED_AGAIN,
    "profile": _ASKED_AGAIN,
    "security": _ASKED_AGAIN,
    "backup_codes": _ASKED_AGAIN,  # to the page that shows the current codes again, if any
    "start_authenticator_setup": _ASKED_AGAIN,
    "confirm_enrolment": ("code", *_ASKED_AGAIN),
    "regenerate_backup_codes": _ASKED_AGAIN,
    "disable_2fa": _ASKED_AGAIN,
    "set_enforcement_required": _ASKED_AGAIN,
    "set_enforcement_optional": _ASKED_AGAIN,
    "staff": _ASKED_AGAIN,
    "stored_password": ("subject", *_ASKED_AGAIN),  # a module's function returns it as shown
    "disable_2fa_for": ("subject", *_ASKED_AGAIN),
    "begin_passkey_setup": _ASKED_AGAIN,
    "finish_passkey_setup": ("name", *_ASKED_AGAIN),
    "begin_passkey_sign_in": (),
    "remove_passkey": ("name", *_ASKED_AGAIN),
}
VERBS = ("goto", "click", "submit", "fill", "tick", "untick", "wait", "wait_url")
_LOCATING = ("click", "submit", "fill", "tick", "untick", "wait")


@dataclass(frozen=True)
class Step:
    """One thing a person does: `verb` on `what` (a locator, a path or a URL pattern)."""

    verb: str
    what: Any  # a locator name, a locators.Spec, a path or a regular expression
    value: str | None = None
    when: Any = None  # a locator that must show for the step to run
    optional: bool = False
    unless: Any = None  # a locator that must not show for the step to run


@dataclass(frozen=True)
class Flow:
    """An action's steps, or the Python function that does it."""

    action: str
    steps: tuple[Step, ...] = ()
    function: Callable[..., Any] | None = None


class Driver(Protocol):
    """What the browser target lends a flow: its locators, addresses and form submission.

    `find` waits for an element; where it does not come, the page is read for a refusal
    (`watch`: an alert on a page this flow loaded is one at once) and Refused is raised, as
    when the reference's page offers no control for an action.
    """

    def locate(self, what: Any) -> Locator: ...
    def find(self, what: Any, *, watch: bool) -> Locator: ...
    def goto(self, path: str) -> None: ...
    def submit(self, button: Locator) -> None: ...


def run(flow: Flow, page: Page, driver: Driver, values: dict[str, str],
        timeout_ms: float) -> Any:
    """Do the action as the flow says; what a module's function returned, if anything (a
    `staff` function may return the rows it read: [{"email": ..., "two_factor_enabled": ...}])."""
    if flow.function is not None:
        wanted = ACTIONS[flow.action]
        answer = flow.function(page, **{k: v for k, v in values.items() if k in wanted})
        page.wait_for_load_state("domcontentloaded")
        return answer
    loaded = False  # a page this flow loaded: any alert on it answers this action
    for step in flow.steps:
        if step.when is not None and not _shows(driver.locate(step.when)):
            continue
        if step.unless is not None and _shows(driver.locate(step.unless)):
            continue
        if step.verb == "goto":
            driver.goto(step.what.format_map(values))
            loaded = True
            continue
        if step.verb == "wait_url":
            page.wait_for_url(re.compile(step.what), timeout=timeout_ms)
            continue
        if step.optional and not _shows(driver.locate(step.what)):
            continue
        found = driver.find(step.what, watch=loaded)
        if step.verb == "wait":
            continue
        if step.verb == "fill":
            found.fill((step.value or "").format_map(values))
        elif step.verb == "tick":
            found.check()
        elif step.verb == "untick":
            found.uncheck()
        elif step.verb == "submit":
            driver.submit(found)
            loaded = True
        else:  # click: a link or button; the page it may load is parsed before going on
            found.click()
            page.wait_for_load_state("domcontentloaded")
            loaded = True


def _shows(locator: Locator) -> bool:
    return locator.filter(visible=True).count() > 0


# -- reading [browser.flows] and the module -----------------------------------------------------


def parse(table: Any, where: str, spec: Callable[[Any, str], Any], known: set[str],
          module: Path | None = None) -> dict[str, Flow]:
    """The flows a config describes; `spec` reads an inline locator, `known` names them."""
    if not isinstance(table, dict):
        raise UsageError(f"{where}: [browser.flows] must be a table")
    flows = {}
    for action, raw in table.items():
        at = f"{where} [browser.flows] {action}"
        if action not in ACTIONS:
            raise UsageError(f"{at}: no such action (known: {', '.join(ACTIONS)})")
        if not isinstance(raw, list) or not raw:
            raise UsageError(f"{at}: must be a list of steps like {{ click = \"...\" }}")
        steps = tuple(_step(s, f"{at} step {n}", action, spec, known)
                      for n, s in enumerate(raw, 1))
        flows[action] = Flow(action, steps)
    if module is not None:
        for action, function in _functions(module, where).items():
            if action in flows:
                raise UsageError(f"{where}: {action} is both in [browser.flows] and in "
                                 f"{module.name}: keep one")
            flows[action] = Flow(action, function=function)
    return flows


def _step(raw: Any, at: str, action: str, spec: Callable[[Any, str], Any],
          known: set[str]) -> Step:
    if not isinstance(raw, dict):
        raise UsageError(f"{at}: must be a table like {{ click = \"confirm_submit\" }}")
    verbs = [v for v in VERBS if v in raw]
    extra = sorted(set(raw) - set(VERBS) - {"value", "when", "unless", "optional"})
    if len(verbs) != 1 or extra:
        raise UsageError(f"{at}: give exactly one of {', '.join(VERBS)} (plus value, when, "
                         f"unless, optional){f'; not {extra[0]!r}' if extra else ''}")
    verb = verbs[0]
    what = raw[verb]
    if verb == "goto":
        if not isinstance(what, str) or not what.startswith("/"):
            raise UsageError(f"{at}: goto takes a path on the site, like \"/account/2fa\"")
        _placeholders(what, action, at)
    elif verb == "wait_url":
        try:
            re.compile(what)
        except (re.error, TypeError):
            raise UsageError(f"{at}: wait_url takes a regular expression") from None
    else:
        what = _locator(what, f"{at} {verb}", spec, known)
    value = raw.get("value")
    if (verb == "fill") != (value is not None):
        raise UsageError(f"{at}: value goes with fill, and fill needs one")
    if value is not None:
        if not isinstance(value, str):
            raise UsageError(f"{at}: value must be a string")
        _placeholders(value, action, at)
    when = _locator(raw["when"], f"{at} when", spec, known) if "when" in raw else None
    unless = _locator(raw["unless"], f"{at} unless", spec, known) if "unless" in raw else None
    optional = raw.get("optional", False)
    if not isinstance(optional, bool) or (optional and verb not in _LOCATING):
        raise UsageError(f"{at}: optional is true or false, on a step with a locator")
    return Step(verb, what, value, when, optional, unless)


def _locator(raw: Any, at: str, spec: Callable[[Any, str], Any], known: set[str]) -> Any:
    if isinstance(raw, str):
        if raw not in known:
            raise UsageError(f"{at}: {raw!r} names no locator (give one in [browser.locators] "
                             "or inline, like { role = \"button\", name = \"Save\" })")
        return raw
    return spec(raw, at)


def _placeholders(text: str, action: str, at: str) -> None:
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    unknown = sorted(names - set(ACTIONS[action]))
    if unknown:
        allowed = ", ".join(f"{{{v}}}" for v in ACTIONS[action]) or "none"
        raise UsageError(f"{at}: {{{unknown[0]}}} is no value of {action} ({allowed})")


def _functions(path: Path, where: str) -> dict[str, Callable[..., Any]]:
    """The module's public functions, each named after an action."""
    if not path.is_file():
        raise UsageError(f"{where}: [browser] module {path} not found")
    loaded = importlib.util.spec_from_file_location(f"clinic2fa_flows_{path.stem}", path)
    if loaded is None or loaded.loader is None:
        raise UsageError(f"{where}: [browser] module {path} cannot be loaded")
    module = importlib.util.module_from_spec(loaded)
    try:
        loaded.loader.exec_module(module)
    except Exception as exc:  # the module's own mistake: one line, not a traceback
        raise UsageError(f"{where}: [browser] module {path.name} fails to load: "
                         f"{type(exc).__name__}: {exc}") from None
    found = {}
    for name, value in vars(module).items():
        if name.startswith("_") or not callable(value) or \
                getattr(value, "__module__", None) != module.__name__:
            continue
        if name not in ACTIONS:
            raise UsageError(f"{where}: {path.name} defines {name}, which is no action (known: "
                             f"{', '.join(ACTIONS)}; helpers start with _)")
        found[name] = value
    return found
