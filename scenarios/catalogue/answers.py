"""What answers carry besides their data: no-store, 413 for a flood, sign-out's 204, QR images."""

from __future__ import annotations

import secrets

from clinic2fa.scenarios.contract import Answer, SetupScreen
from clinic2fa.scenarios.core import params, qr
from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, Needs, scenario

SIGN_IN = "/api/v1/sign-in"  # the contract's unauthenticated endpoint: anyone can send to it
SIGN_OUT = "/api/v1/sign-out"  # the contract: 204 for any bearer token, known or not


def _no_store(ctx: Context, session: str | None, what: str, *, token_only: bool = False) -> None:
    """The last answer `session`'s client got says Cache-Control: no-store.

    `token_only`: the answer's secret is the session token. Over the API it is in the body;
    in a browser it rode a redirect's cookie and the page shown after it carries none.
    """
    answer: Answer | None = ctx.http.last_answer(session)
    if answer is None:
        ctx.trace.note(f"{what}: no answer to read")
        return
    if token_only and "json" not in answer.headers.get("content-type", ""):
        ctx.trace.note(f"{what}: the token came in a cookie, the page shown holds none")
        return
    directives = {d.strip().lower() for d in answer.headers.get("cache-control", "").split(",")}
    ctx.check(params.CACHE_CONTROL in directives,
              f"{what} came with Cache-Control {answer.headers.get('cache-control')!r}, not "
              f"{params.CACHE_CONTROL}: a browser or proxy may keep a copy")


@scenario("SECRET-NO-STORE-ANSWERS", verifies=["SECRET-NO-STORE"], level=Level.MUST,
          quote="Every response that carries a secret, a session token or a code",
          needs=(Needs.HTTP,))
def secrets_not_cached(ctx: Context) -> None:
    """Sign-in, the setup screen, backup codes and the second step all say no-store"""
    account = ctx.account("staff")
    ctx.step("Sign in: the answer carries a session")
    result = ctx.target.sign_in(account.email, account.password)
    _no_store(ctx, result.session, "the sign-in answer", token_only=True)
    ctx.step('"Set up authenticator app": the QR code and the secret')
    enrolled = ctx.enrol(account, session=result.session)
    # enrol() made two exchanges; the setup screen is checked on a second setup's answer
    ctx.step("The backup codes shown on confirming")
    _no_store(ctx, enrolled.session, "the backup codes after confirming")
    ctx.step("Regenerate backup codes")
    ctx.target.regenerate_backup_codes(enrolled.session, account.password)
    _no_store(ctx, enrolled.session, "the regenerated backup codes")
    ctx.step("Sign in again and pass the second step: a new session")
    pending = ctx.target.sign_in(account.email, account.password)
    ctx.target.enter_code(pending.session, ctx.fresh_code(enrolled))
    _no_store(ctx, pending.session, "the second step's answer", token_only=True)
    ctx.step("A second user's setup screen")
    other = ctx.signed_in(ctx.account("staff"))
    ctx.target.start_authenticator_setup(other)
    _no_store(ctx, other, "the setup screen (QR code and secret)")


@scenario("REQUEST-SIZE-LIMIT-413", verifies=["REQUEST-SIZE-LIMIT"], level=Level.SHOULD,
          quote="with HTTP 413 and the contract's error body", needs=(Needs.HTTP,))
def oversized_body_refused(ctx: Context) -> None:
    """A sign-in body twice the largest limit allowed is refused with 413, not read and judged"""
    size = 2 * params.MAX_BODY_BYTES_MAX
    ctx.step(f"POST {SIGN_IN} with a {size // (1 << 20)} MiB body")
    body = b'{"email": "nobody@clinic.test", "password": "' + b"x" * size + b'"}'
    answer = ctx.http.send_raw("POST", SIGN_IN, body, {"content-type": "application/json"})
    ctx.trace.note(f"answered {answer.status}")
    ctx.check(answer.status == 413, f"a {size // (1 << 20)} MiB body got {answer.status}, not "
                                    "413: it was read")
    if answer.body is None and "html" in answer.headers.get("content-type", ""):
        ctx.trace.note("the answer is a page (a browser's sign-in form, or a proxy's): no "
                       "contract body to read")
        return
    ctx.check(isinstance(answer.body, dict) and isinstance(answer.body.get("error"), str),
              "the 413 has no contract error body {error, reason, message}")


@scenario("SIGN-OUT-ANY-TOKEN", verifies=["STEP-6"], level=Level.MUST, quote="Sign out, sign in.")
def sign_out_any_token(ctx: Context) -> None:
    """Signing out again (a second tab), or with a token never issued, is no error: the HTTP
    contract answers 204 for any bearer token, known or not.

    The contract's rule, not the guide's step (STEP-6-SIGN-IN-TEST signs out once): over HTTP
    the raw answers are read; in process the target's own sign-out is called again; a
    browser has no Sign out to press once signed out, nor a request of the harness's shape."""
    session = ctx.signed_in(ctx.account("staff"))
    ctx.step("Sign out")
    ctx.target.sign_out(session)
    with ctx.refused("not_signed_in", why="the signed-out session"):
        ctx.target.profile(session)
    never = f"never-issued-{secrets.token_urlsafe(16)}"
    if Needs.HTTP not in ctx.capabilities:
        for what, token in (("the signed-out session", session), ("a token never issued", never)):
            ctx.step(f"Sign out again, with {what}")
            with ctx.accepted(f"signing out with {what}"):
                ctx.target.sign_out(token)
        return
    signed_out = ctx.replay.session_credentials(session)[0]
    for what, token in (("the signed-out session's token", signed_out),
                        ("a token never issued", never)):
        ctx.step(f"POST {SIGN_OUT} with {what}")
        ctx.trace.secrets.add(token)
        answer = ctx.http.send_raw("POST", SIGN_OUT, b"", {"authorization": f"Bearer {token}"})
        ctx.trace.note(f"answered {answer.status}")
        ctx.check(answer.status == 204, f"signing out with {what} got {answer.status}, not the "
                                        "contract's 204 (any bearer token, known or not)")


@scenario("QR-READABLE-EVERY-FORM", verifies=["QR-READABLE"], level=Level.MUST,
          quote="MUST decode on its own with a standard QR reader: dark modules on the image's "
                "own light background, with a quiet zone of at least 4 modules")
def qr_reads_on_its_own(ctx: Context) -> None:
    """Every QR image the setup screen serves reads on a dark background, quiet zone and all"""
    session = ctx.signed_in(ctx.account("staff"))
    ctx.step('Click "Set up authenticator app"')
    setup: SetupScreen = ctx.target.start_authenticator_setup(session)
    ctx.check(bool(setup.uri), "the QR code as shown cannot be read at all")
    forms = {"the QR image as shown (PNG)": setup.qr_png}
    if setup.qr_svg:
        forms["the QR code's SVG"] = setup.qr_svg
    for what, data in forms.items():
        ctx.step(f"Read {what} on its own, over black")
        try:
            image = qr.from_svg(data) if isinstance(data, str) else qr.from_png(data)
        except qr.NoRenderer as exc:
            ctx.unverified(f"{what}: not verified here: {exc}")
            continue
        except qr.Unreadable as exc:  # a renderer here, and it cannot draw what was served
            ctx.check(False, f"{what} is not an image that can be drawn: {exc}")
            continue
        reading = qr.read(image)
        ctx.check(reading.text is not None, f"{what} reads as nothing over a dark background: "
                                            "it has no light background of its own")
        ctx.check(reading.text == setup.uri, f"{what} holds another text than the setup's")
        ctx.check(reading.quiet_zone >= params.QUIET_ZONE_MODULES,
                  f"{what} has a quiet zone of {reading.quiet_zone:.1f} modules, fewer than "
                  f"{params.QUIET_ZONE_MODULES}")
