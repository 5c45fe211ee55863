"""`clinic2fa explore`: random action sequences on the reference and a target, side by side.

A hypothesis RuleBasedStateMachine draws what the owner, an admin and a staff member do; each
action runs on a clean reference in memory and on the target, and what a person could observe
(accepted or refused, the error code and reason, the stage reached, counts shown) must agree.
The first difference hypothesis meets is cut down, step by step, to a shortest sequence
(explore_pair.shortest), written as a pytest file that replays it against the same target.
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from clinic2fa.scenarios.contract import Provider, Unreachable
from clinic2fa.scenarios.core import params
from clinic2fa.scenarios.core.verdicts import ExitCode
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.explore.pair import Divergence, Finding, Pair, shortest
from clinic2fa.scenarios.explore.sides import PASSKEY_TRICKS, ROLES, SECOND_STEPS, Action, Person
from clinic2fa.scenarios.running.console import Console, Eta
from clinic2fa.scenarios.targets import factory

DEFAULT_EXAMPLES = 300
CI_SEED = 20261201  # the seed CI's runs use (`--seed`), so a CI failure replays as it was
STEPS = 40  # actions per example at most
# Authenticator-app setups shown per example at most: drawing a QR code (on both sides) costs
# more than all other actions of an example together; passkeys enrol people cheaply besides.
QR_CODES = 2
PROFILE = "clinic2fa-explore"
settings.register_profile(
    PROFILE, max_examples=DEFAULT_EXAMPLES, stateful_step_count=STEPS, database=None,
    deadline=None, derandomize=True, report_multiple_bugs=False, print_blob=False,
    verbosity=Verbosity.quiet, suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.generate])  # shrinking: explore_pair.shortest

WHO = st.sampled_from(ROLES)
PASSWORD = st.sampled_from(("right", "wrong"))
PAST_WINDOW = 3 * params.PERIOD  # seconds: outside the window, inside the skew search
# A sign-in's wait for its second step is over; a lock-out too.
PAST_PENDING = (params.PENDING_SECONDS + 1, params.LOCKOUT_SECONDS + 1)
CLOCK_MOVES = (params.PERIOD, PAST_WINDOW, *PAST_PENDING)  # one step; past the window; those
# The phone's clock against true time, seconds, out to the edge of the skew search.
SKEWS = (0, params.PERIOD, -params.PERIOD, PAST_WINDOW, -PAST_WINDOW,
         params.SKEW_HORIZON * params.PERIOD)
Fits = Callable[[Person], bool]


def _signed_in(p: Person) -> bool:
    return p.stage in ("signed_in", "enrolment_required")


def _second_step(p: Person) -> bool:
    return p.stage == "second_step"


def _pending(p: Person) -> bool:
    return p.stage in ("second_step", "enrolment_required")


def _full(p: Person) -> bool:
    return p.stage == "signed_in"


def _may_enrol(p: Person) -> bool:
    """Signed in without 2FA and not in the middle of a setup (the retry is its own way)."""
    return _signed_in(p) and not p.enrolled and not p.setting_up


def _few_passkeys(p: Person) -> bool:
    return _signed_in(p) and len(p.passkeys) < 2


class Explorer(RuleBasedStateMachine):
    """One example: a fresh reference and target, then up to STEPS actions on both.

    Who acts is drawn half the time from the people for whom the action means something now
    (as the reference's answers so far tell: a code only at the second step, a confirmation
    only during a setup), half the time from everyone, so refusals are explored too. A rule
    nobody can use meaningfully waits until someone can.
    """

    provider: ClassVar[Provider]
    # called after each example (the command's n/N and time left); None: quiet
    on_example: ClassVar[Callable[[], None] | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.pair = Pair(self.provider)
        self.last = ROLES[-1]  # who acted last: people tend to go on with what they started
        self.methods = [m for m in SECOND_STEPS if self.pair.passkeys or "passkey" not in m]

    def teardown(self) -> None:
        self.pair.close()
        if type(self).on_example is not None:
            type(self).on_example()  # type: ignore[misc]

    def _fit(self, fits: Fits) -> list[str]:
        return [role for role, p in self.pair.sides[0].people.items() if fits(p)]

    def _any(self, fits: Fits) -> bool:
        return bool(self._fit(fits))

    def _qr_codes(self) -> int:
        return sum(len(p.setups) for p in self.pair.sides[0].people.values())

    def _who(self, data: st.DataObject, fits: Fits = lambda p: True) -> str:
        """Whoever acted last, or someone for whom the action fits now, or anyone."""
        fit = self._fit(fits)
        choices = [st.just(self.last)] if self.last in fit else []
        choices += [st.sampled_from(fit)] if fit else []
        return data.draw(st.one_of(*choices, WHO), label="who")

    def _do(self, verb: str, who: str = "", arg: str | int = "") -> None:
        if who:
            self.last = who
        self.pair.step(Action(verb, who, arg))

    def _how(self, data: st.DataObject, who: str, *extra: str) -> str:
        """A way through the second step: one that tries what was tried before again (a
        replayed code, a spent backup code, a passkey after its clone signed in or the other
        way round, more wrong guesses after a refusal, a code from a phone that drifted),
        or one that means something for `who` now, or any."""
        person = self.pair.sides[0].people[who]
        app = bool(person.phone.accounts)
        counts = [(device.sign_count, person.clones[name].sign_count)
                  for name, device in person.passkeys[-1:]]  # the passkey's and its clone's
        again = {"code": app and person.phone.offset != 0,  # from a phone that drifted
                 "4 wrong codes": app and person.misses > 0,  # guessing on, after a refusal
                 "wrong backup code": person.misses > 0,
                 "replayed code": person.accepted, "spent backup code": person.spent,
                 "old app's code": person.retired,  # after a disable and a new enrolment
                 "old backup code": person.old,
                 "cloned passkey": any(own > clone for own, clone in counts),
                 "passkey": any(clone > own for own, clone in counts)}
        others = {role: p for role, p in self.pair.sides[0].people.items() if p is not person}
        held = {**dict.fromkeys(("code", "wrong code", "2 wrong codes", "4 wrong codes"), app),
                **again, "backup code": person.backup, "old app's code": person.retired,
                "passkey": person.passkeys, **dict.fromkeys(PASSKEY_TRICKS, person.passkeys),
                **{f"{role}'s passkey": p.passkeys for role, p in others.items()},
                **{f"{role}'s code": p.app for role, p in others.items()},
                **{f"{role}'s backup code": p.backup for role, p in others.items()}}
        apt = [m for m in self.methods if held.get(m, "passkey" not in m)]
        used = [m for m in again if again[m] and m in self.methods]
        # another person's factor in this one's second step: a rule's other side, tried often
        theirs = [m for m in apt if "'s " in m and not m.startswith(f"{who}'s ")]
        pools = [pool for pool in (used, theirs, [*extra, *apt]) if pool]
        return data.draw(st.one_of(*map(st.sampled_from, pools),
                                   st.sampled_from([*extra, *self.methods])), label="how")

    @rule(data=st.data())
    def sign_in(self, data: st.DataObject) -> None:
        """Sign in; if the second step is asked, take it at once one way or another, or leave
        it waiting (for later, for the clock to move, or for another sign-in)."""
        who = self._who(data, lambda p: p.enrolled)
        wait = data.draw(st.booleans(), label="leave the second step waiting")
        self.pair.step(Action("sign_in", who, "right", "" if wait else self._how(data, who)))
        self.last = who

    @precondition(lambda self: self._any(lambda p: bool(p.passkeys)))
    @rule(data=st.data())
    def sign_in_with_passkey(self, data: st.DataObject) -> None:
        """Sign in and answer with a passkey: one's own, someone else's, or one misused."""
        who = self._who(data, lambda p: bool(p.passkeys))
        ways = ("passkey", *PASSKEY_TRICKS, *(f"{role}'s passkey" for role in ROLES))
        self.pair.step(Action("sign_in", who, "right", data.draw(st.sampled_from(ways),
                                                                  label="how")))
        self.last = who

    @rule(who=WHO)
    def mistype_password(self, who: str) -> None:
        self._do("sign_in", who, "wrong")

    @rule(data=st.data())
    def sign_out(self, data: st.DataObject) -> None:
        self._do("sign_out", self._who(data, lambda p: p.session is not None))

    @precondition(lambda self: self._qr_codes() < QR_CODES and self._any(_may_enrol))
    @rule(data=st.data(), how=st.sampled_from(("valid", "wrong", "retry")))
    def enrol(self, data: st.DataObject, how: str) -> None:
        """Set up authenticator app, scan the QR code, confirm with a valid or a wrong code;
        or set up twice and confirm with the first QR code's code (retry)."""
        self._do("enrol", self._who(data, _may_enrol), how)

    @precondition(lambda self: self._any(lambda p: p.setting_up))
    @rule(data=st.data(), code=st.sampled_from(("valid", "wrong", "earlier")))
    def confirm(self, data: st.DataObject, code: str) -> None:
        self._do("confirm", self._who(data, lambda p: p.setting_up), code)

    @precondition(lambda self: self._any(_second_step))
    @rule(data=st.data())
    def second_step(self, data: st.DataObject) -> None:
        """The second step of a sign-in left waiting: a code, a backup code or a passkey."""
        who = self._who(data, _second_step)
        self._do("second_step", who, self._how(data, who))

    @precondition(lambda self: self._any(lambda p: _full(p) and p.enrolled))
    @rule(data=st.data(), what=st.sampled_from(("regenerate", "disable_own")),
          password=PASSWORD)
    def own_settings(self, data: st.DataObject, what: str, password: str) -> None:
        """Security settings: regenerate backup codes, or disable 2FA; both ask the password."""
        self._do(what, self._who(data, lambda p: _full(p) and p.enrolled), password)

    @precondition(lambda self: self._any(_full))
    @rule(data=st.data(), what=st.sampled_from(("enforce", "disable_other")))
    def clinic_settings(self, data: st.DataObject, what: str) -> None:
        """Settings for the whole clinic: 2FA enforcement on or off, or Staff -> Disable 2FA
        for someone (who has 2FA, mostly); meant for the owner and admins, tried by anyone."""
        who = self._who(data, _full)
        if what == "enforce":
            self._do(what, who, data.draw(st.sampled_from(("on", "off")), label="setting"))
            return
        others = [r for r, p in self.pair.sides[0].people.items() if p.enrolled and r != who]
        whom = data.draw(st.one_of(st.sampled_from(others), WHO) if others else WHO,
                         label="whom")
        self._do(what, who, whom)

    @rule(data=st.data(), page=st.sampled_from(("security", "profile")))
    def look(self, data: st.DataObject, page: str) -> None:
        """Open Security (what it shows) or My Profile (whether the clinic is reachable)."""
        self._do(page, self._who(data))

    @precondition(lambda self: self.pair.clock_movable
                  and self._any(lambda p: p.enrolled or p.setting_up))
    @rule(seconds=st.sampled_from(CLOCK_MOVES))
    def time_passes(self, seconds: int) -> None:
        """The server's clock moves (where both sides allow it)."""
        self._do("clock", "", seconds)

    @precondition(lambda self: self._any(lambda p: p.enrolled or p.setting_up))
    @rule(data=st.data(), seconds=st.sampled_from(SKEWS))
    def phone_drifts(self, data: st.DataObject, seconds: int) -> None:
        """A phone's clock runs fast or slow against true time (or is set right again)."""
        self._do("skew", self._who(data, lambda p: p.enrolled or p.setting_up), seconds)

    @precondition(lambda self: self.pair.clock_movable and self._any(_pending))
    @rule(seconds=st.sampled_from(PAST_PENDING))
    def walk_away(self, seconds: int) -> None:
        """Someone leaves a sign-in waiting for its second step (or for enrolment) past the
        time it may wait: the server's clock moves on."""
        self._do("clock", "", seconds)

    @precondition(lambda self: self.pair.passkeys and self._any(_signed_in))
    @rule(data=st.data(), what=st.sampled_from(("add_passkey", "remove_passkey")))
    def passkeys(self, data: st.DataObject, what: str) -> None:
        """Set up a passkey, or remove the latest one (with the password, right or wrong)."""
        if what == "add_passkey":
            self._do(what, self._who(data, _few_passkeys))
            return
        who = self._who(data, lambda p: _full(p) and bool(p.passkeys))
        self._do(what, who, data.draw(PASSWORD, label="password"))


# -- running ------------------------------------------------------------------------------------


def new_seed() -> int:
    """A seed for a run of its own: each run explores other sequences, and prints its seed."""
    return secrets.randbelow(2**32)


def open_target(target: str) -> Provider:
    """The provider for `target`, opened; only a target that makes its own accounts will do."""
    provider = factory.build(target)
    try:
        provider.open()
        if not provider.reference:
            raise UsageError(f"explore drives random actions, enforcement and lock-outs: it "
                             f"needs a target that makes its own accounts (memory, "
                             f"memory+defect:NAME or `clinic2fa serve`), not {provider.name}")
    except BaseException:
        provider.close()
        raise
    return provider


def explore(target: str, *, examples: int | None = None, seed_value: int | None = None,
            on_example: Callable[[], None] | None = None) -> Finding | None:
    """The first divergence hypothesis finds in `examples` examples, shortened; or None."""
    provider = open_target(target)
    machine = type("Explore", (Explorer,), {"provider": provider,
                                            "on_example": staticmethod(on_example)
                                            if on_example else None})
    chosen = settings(settings.get_profile(PROFILE),
                      max_examples=examples or DEFAULT_EXAMPLES,
                      derandomize=seed_value is None)
    if seed_value is not None:
        machine = seed(seed_value)(machine)
    try:
        with _project_literals_ignored():
            run_state_machine_as_test(machine, settings=chosen)
    except Divergence as found:
        return shortest(provider, found.finding)
    except FlakyFailure as flaky:  # the target answered otherwise once, not when run again
        found = next((e for e in flaky.exceptions if isinstance(e, Divergence)), None)
        if found is None:
            raise
        return shortest(provider, found.finding)
    finally:
        provider.close()
    return None


@contextmanager
def _project_literals_ignored() -> Iterator[None]:
    """Keep hypothesis from mixing literals of the project's modules into its draws.

    Hypothesis (6.13x on) sometimes draws a number found in any local module imported so far,
    so the same seed explored differently from the command line, under pytest, or after an
    edit anywhere in the project. explore draws only indices into its own choices, for which
    those literals mean nothing. Uses hypothesis internals (the version is pinned); where
    they are missing, nothing is changed.
    """
    try:
        from hypothesis.internal.conjecture import providers
        empty, cache, saved = (providers.Constants(), providers.CONSTANTS_CACHE.cache,
                               providers._get_local_constants)
    except (ImportError, AttributeError):
        yield
        return
    cache.clear()  # filled before with the project's literals
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = saved
        cache.clear()


def replay(target: str, steps: Sequence[Action]) -> None:
    """Run `steps` on a fresh reference and target; Divergence where they differ."""
    provider = open_target(target)
    try:
        pair = Pair(provider)
        try:
            for action in steps:
                pair.step(action)
        finally:
            pair.close()
    finally:
        provider.close()


def script(finding: Finding, how: str) -> str:
    """A pytest file that replays the finding against the same target and fails where it did."""
    steps = "".join(f"    {_source(a)},  # {a}\n" for a in finding.steps)
    said = "\n".join(f"    {line}" for line in finding.describe().splitlines())
    return f'''"""Replays what `clinic2fa explore` found ({how}); run it with pytest.

{said}
"""

from clinic2fa.scenarios.explore.explorer import replay
from clinic2fa.scenarios.explore.sides import Action

TARGET = {finding.target!r}
STEPS = [
{steps}]


def test_target_answers_as_the_reference() -> None:
    """Fails, as the target does, at the step where it answers otherwise than the reference."""
    replay(TARGET, STEPS)
'''


def _source(action: Action) -> str:
    then = f", then={action.then!r}" if action.then else ""
    return f"Action({action.verb!r}, {action.who!r}, {action.arg!r}{then})"


def script_path(report_dir: Path, target: str) -> Path:
    return report_dir / f"explore_{re.sub(r'[^A-Za-z0-9]+', '_', target).strip('_')}.py"


# -- the command line ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, metavar="TARGET",
                        help="memory, memory+defect:NAME or http://HOST:PORT of `clinic2fa "
                             "serve` (a target that makes its own accounts)")
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, metavar="N",
                        help=f"action sequences to try (default {DEFAULT_EXAMPLES})")
    parser.add_argument("--report-dir", type=Path, default=Path("reports"), metavar="DIR",
                        help="where the replay script of a divergence goes (./reports)")
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="replay the run of seed S (default: a new seed each run, printed; "
                             f"CI uses --seed {CI_SEED})")


def example_progress(total: int, console: Console | None = None) -> Callable[[], None]:
    """n/N examples and the time left: a line every tenth of the run, redrawn on a terminal."""
    console = console or Console()
    eta, every = Eta(total), max(1, total // 10)
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if count > total:  # hypothesis shortens a divergence with more examples
            console.status(f"shortening the divergence: example {count}")
        elif count % every == 0 or count == total:
            console.say(eta.says(count, "examples"))
        else:
            console.status(eta.says(count, "examples"))

    return tick


def command(args: argparse.Namespace) -> int:
    """Entry point for `clinic2fa explore`: 0 none found, 1 divergence, 2 usage, 3 unreachable."""
    if args.examples < 1:
        print("clinic2fa explore: --examples must be at least 1", file=sys.stderr)
        return ExitCode.USAGE
    chosen = args.seed if args.seed is not None else new_seed()
    how = f"--examples {args.examples} --seed {chosen}"
    print(f"exploring {args.target} against the reference: {how}, up to {STEPS} actions each"
          f"{'' if args.seed is not None else ' (a new seed: --seed replays this run)'}",
          flush=True)
    try:
        finding = explore(args.target, examples=args.examples, seed_value=chosen,
                          on_example=example_progress(args.examples))
    except UsageError as exc:
        print(f"clinic2fa explore: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except Unreachable as exc:
        print(f"clinic2fa explore: {exc}", file=sys.stderr)
        return ExitCode.UNREACHABLE
    if finding is None:
        print(f"no divergence from the reference in {args.examples} examples")
        return ExitCode.CONFORMS
    text = script(finding, f"clinic2fa explore --target {args.target} {how}")
    path = script_path(args.report_dir, args.target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"clinic2fa explore: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        print(text)
        return ExitCode.DOES_NOT_CONFORM
    print(finding.describe())
    print(f"\nshortest sequence found, as a replay script ({path}; run it with pytest):\n")
    print(text)
    return ExitCode.DOES_NOT_CONFORM
