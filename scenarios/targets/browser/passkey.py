"""Passkeys in the browser: Chromium's virtual authenticator (CDP WebAuthn), held per person.

A `BrowserPasskey` is what a person holds: its credentials (private key, sign count) live in
the virtual authenticator of the page it is used on, and are carried to the next session's page
afterwards, as one key serves every browser the person signs in from. Each ceremony runs in
Chromium itself; the page's WebAuthn calls are only held (HOLD_SCRIPT) until the person touches
the key, so that a scenario can read the options first and answer after, as the Target
interface has it. A key that cannot verify its user answers as a person's own browser may when
its script ignores the page's userVerification "required" (HOLD_SCRIPT asks the authenticator
with "discouraged"): the answer then reaches the server without the UV flag, and the server's
own check is what is seen. Likewise a key answering another person's sign-in drops the page's
allowCredentials and offers its own credential as a discoverable one, and so does a key whose
credential no server registered. Chromium's authenticator always counts, so a counterless key
(most synced passkeys) is a software one, the simulator's VirtualPasskey: it answers the held
prompt in the page itself, for the page's own origin and RP ID, as a credential object the
page's script reads as it reads Chromium's. What a browser cannot make (an answer for another
origin or site, a replayed or crafted answer) is Unsupported, with the reason.
"""

from __future__ import annotations

import base64
import itertools
import secrets
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from clinic2fa.scenarios.contract import Unsupported
from clinic2fa.simulator.virtual.authenticator_app import DeviceError
from clinic2fa.simulator.virtual.passkey import VirtualPasskey

if TYPE_CHECKING:
    from playwright.sync_api import CDPSession

MARK = "x-clinic2fa-ceremony"  # added to the options a begin_* returns: which page's ceremony
NO_AUTHENTICATOR_TIMEOUT_MS = 200  # the prompt finds no authenticator: the browser gives up

# Installed in every context before any page script: navigator.credentials.create/get are held
# until the harness answers (the person touches the key) or they are dropped with the page.
HOLD_SCRIPT = """
(() => {
  const container = navigator.credentials;
  if (!container || window.__clinic2faCeremony) return;
  const real = {create: container.create.bind(container), get: container.get.bind(container)};
  const b64url = (value) => {
    const bytes = value instanceof ArrayBuffer ? new Uint8Array(value)
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    let text = "";
    for (const byte of bytes) text += String.fromCharCode(byte);
    return btoa(text).replace(/[+]/g, "-").replace(/[/]/g, "_").replace(/=+$/, "");
  };
  const plain = (value) => {
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return b64url(value);
    if (Array.isArray(value)) return value.map(plain);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
  };
  const buffer = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")),
                                           (c) => c.charCodeAt(0)).buffer;
  // a software key's answer (WebAuthn JSON) as the PublicKeyCredential a page's script reads
  const credential = (kind, json) => {
    const r = json.response;
    const response = kind === "create" ? {
      clientDataJSON: buffer(r.clientDataJSON), attestationObject: buffer(r.attestationObject),
      getTransports: () => [...r.transports],
      getAuthenticatorData: () => buffer(r.authenticatorData),
      getPublicKey: () => (r.publicKey ? buffer(r.publicKey) : null),
      getPublicKeyAlgorithm: () => r.publicKeyAlgorithm,
    } : {
      clientDataJSON: buffer(r.clientDataJSON), authenticatorData: buffer(r.authenticatorData),
      signature: buffer(r.signature), userHandle: r.userHandle ? buffer(r.userHandle) : null,
    };
    return {id: json.id, rawId: buffer(json.rawId), type: json.type, response,
            authenticatorAttachment: json.authenticatorAttachment,
            getClientExtensionResults: () => ({}), toJSON: () => json};
  };
  const state = {held: null, count: 0};
  Object.defineProperty(window, "__clinic2faCeremony", {value: state});
  const hold = (kind) => (options) => new Promise((resolve, reject) => {
    state.count += 1;
    state.held = {
      kind, id: state.count, options: plain((options && options.publicKey) || {}),
      answer(timeout, skipVerification, anyCredential, made) {
        state.held = null;
        document.documentElement.removeAttribute("data-clinic2fa-ceremony");
        if (made && made.error) return reject(new DOMException(made.error, "NotAllowedError"));
        if (made) return resolve(credential(kind, made));
        const asked = options.publicKey;
        if (timeout) asked.timeout = timeout;
        if (skipVerification && kind === "create") {
          asked.authenticatorSelection = {...(asked.authenticatorSelection || {}),
                                          userVerification: "discouraged"};
        } else if (skipVerification) {
          asked.userVerification = "discouraged";
        }
        if (anyCredential) asked.allowCredentials = [];
        real[kind](options).then(resolve, reject);
      },
    };
    document.documentElement.setAttribute("data-clinic2fa-ceremony", kind);
  });
  container.create = hold("create");
  container.get = hold("get");
})();
"""

HELD = "() => { const h = window.__clinic2faCeremony && window.__clinic2faCeremony.held; " \
       "return h ? {kind: h.kind, id: h.id, options: h.options, origin: location.origin, " \
       "host: location.hostname} : null; }"
ANSWER = "([timeout, skip, any, made]) => " \
         "window.__clinic2faCeremony.held.answer(timeout, skip, any, made)"
AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                 "automaticPresenceSimulation": True}
_tokens = itertools.count(1)


class BrowserPasskey:
    """A passkey as Chromium's virtual authenticator holds it, carried between sessions;
    or, with `software`, a key the harness answers the page's prompt with itself."""

    def __init__(self, registry: dict[str, BrowserPasskey], *, user_verified: bool = True,
                 present: bool = True, credentials: list[dict[str, Any]] | None = None,
                 software: VirtualPasskey | None = None) -> None:
        self.token = f"browser-passkey-{next(_tokens)}"
        self.user_verified = user_verified
        self.present = present  # False: no authenticator at hand when the browser asks
        self.credentials: list[dict[str, Any]] = list(credentials or [])  # CDP Credential
        self.user_handle: str | None = None  # the user.id it was registered for (base64)
        self.software = software  # a counterless key: Chromium's authenticator always counts
        self._registry = registry
        registry[self.token] = self

    @property
    def credential_id(self) -> bytes | None:
        """The raw id of the newest credential, as the server lists it in allowCredentials."""
        if self.software is not None:
            return self.software.credential_id
        if not self.credentials:
            return None
        return base64.b64decode(self.credentials[-1]["credentialId"])

    # -- what a scenario does with a passkey -------------------------------------------------

    def create(self, options: dict[str, Any], **misbehave: Any) -> dict[str, Any]:
        """Touch the key for a registration: the answer is made in the browser at finish."""
        _only_honest("register", misbehave)
        self.user_handle = self.user_handle or _standard_b64(options.get("user", {}).get("id"))
        return self._answer("create", options)

    def get(self, options: dict[str, Any], **misbehave: Any) -> dict[str, Any]:
        """Touch the key for a sign-in. `ignore_allow_list`: the person's browser drops the
        page's allowCredentials, so the key answers with its own credential, whoever's it is."""
        any_credential = bool(misbehave.pop("ignore_allow_list", False))
        _only_honest("sign in", misbehave)
        return {**self._answer("get", options), "any_credential": any_credential}

    def clone(self) -> BrowserPasskey:
        """A second authenticator with the same key and sign count (a cloned key)."""
        return BrowserPasskey(self._registry, user_verified=self.user_verified,
                              credentials=[dict(c) for c in self.credentials],
                              software=self.software and self.software.clone())

    def replay_last(self) -> dict[str, Any]:
        raise Unsupported("a browser never sends a passkey answer twice: a replayed answer "
                          "cannot be sent from a page")

    def mint_unregistered(self, rp_id: str) -> None:
        """A credential for `rp_id` that no server registered (made on another device, or
        removed since): offered as a discoverable one once the allow list is dropped."""
        if self.software is not None:
            self.software.mint_unregistered(rp_id)
            return
        key = ec.generate_private_key(ec.SECP256R1())
        pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        self.credentials.append({
            "credentialId": base64.b64encode(secrets.token_bytes(32)).decode(),
            "isResidentCredential": True, "rpId": rp_id,
            "privateKey": base64.b64encode(pkcs8).decode(),
            "userHandle": base64.b64encode(secrets.token_bytes(16)).decode(), "signCount": 0})

    def _answer(self, kind: str, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "browser-passkey", "device": self.token, "kind": kind,
                "ceremony": str(options.get(MARK, ""))}

    # -- the authenticator in one page ------------------------------------------------------

    def answer_in_page(self, held: dict[str, Any], *,
                       any_credential: bool = False) -> dict[str, Any] | None:
        """A software key's answer to the prompt `held` (HELD): WebAuthn JSON for the page's
        origin and RP ID, or {"error"} as the browser's refusal. None: Chromium answers."""
        if self.software is None:
            return None
        options = dict(held["options"])
        self.software.user_verified = self.user_verified
        try:
            if held["kind"] == "create":
                options["rp"] = {"id": held["host"], **options.get("rp", {})}
                return _registration(self.software,
                                     self.software.create(options, origin=held["origin"]))
            options.setdefault("rpId", held["host"])
            made = self.software.get(options, origin=held["origin"],
                                     ignore_allow_list=any_credential)
        except DeviceError as exc:  # the browser tells the page only that it was not allowed
            return {"error": str(exc)}
        return {**made, "authenticatorAttachment": "platform"}

    def attach(self, cdp: CDPSession, *, discoverable: bool = False) -> str | None:
        """Put this key in the page's reach; the authenticator's id (None: no key present).
        `discoverable`: its credentials offered without an allow list (resident ones)."""
        if not self.present:
            return None
        # a key that does not verify its user has no way to (else Chromium asks it to, for a
        # discoverable credential, whatever the page said)
        made = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            **AUTHENTICATOR, "hasUserVerification": self.user_verified,
            "isUserVerified": self.user_verified}})
        authenticator = str(made["authenticatorId"])
        for credential in self.credentials:
            if discoverable and not credential.get("isResidentCredential"):
                credential = {**credential, "isResidentCredential": True,
                              "userHandle": credential.get("userHandle") or self.user_handle
                              or base64.b64encode(b"clinic2fa").decode()}
            cdp.send("WebAuthn.addCredential", {"authenticatorId": authenticator,
                                                "credential": credential})
        return authenticator

    def detach(self, cdp: CDPSession, authenticator: str | None) -> None:
        """Take the key back, with what the ceremony did to it (a new credential, a count)."""
        if authenticator is None:
            return
        found = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        self.credentials = list(found.get("credentials", []))
        cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator})


def make(registry: dict[str, BrowserPasskey], **flags: Any) -> BrowserPasskey:
    """The passkey a scenario asks for (Context.passkey's flags), if a browser can hold it."""
    counterless = flags.pop("has_counter", True) is not True
    user_verified = bool(flags.pop("user_verified", True))
    present = bool(flags.pop("present", True))
    if flags:
        raise Unsupported(f"Chromium's virtual authenticator offers no {', '.join(flags)}")
    if counterless and not present:
        raise Unsupported("a counterless key is answered by the harness in the page: it cannot "
                          "also be absent when the browser asks")
    software = VirtualPasskey("", user_verified=user_verified, has_counter=False) \
        if counterless else None
    return BrowserPasskey(registry, user_verified=user_verified, present=present,
                          software=software)


def _registration(key: VirtualPasskey, made: dict[str, Any]) -> dict[str, Any]:
    """A registration's WebAuthn JSON with what a browser's answer adds (RegistrationResponseJSON:
    authenticatorData, publicKey, its algorithm, transports)."""
    attestation = cbor.decode(base64url_to_bytes(made["response"]["attestationObject"]))
    auth_data = bytes_to_base64url(attestation["authData"])
    response = {**made["response"], "authenticatorData": auth_data,
                "publicKey": bytes_to_base64url(key.public_key_der()),
                "publicKeyAlgorithm": -7, "transports": ["internal"]}
    return {**made, "response": response, "authenticatorAttachment": "platform"}


def device_of(registry: dict[str, BrowserPasskey], credential: Any,
              kind: str) -> BrowserPasskey:
    """The browser passkey behind an answer; a crafted WebAuthn answer cannot enter a page."""
    answer = credential if isinstance(credential, dict) else {}
    token = answer.get("device")
    if answer.get("type") != "browser-passkey" or token not in registry \
            or answer.get("kind") != kind:
        raise Unsupported("a passkey answer made outside the browser cannot be handed to the "
                          "page: in a browser only its own authenticator answers")
    return registry[str(token)]


# Why Chromium will not do what a misbehaving passkey would.
_BROWSERS_WAY = {
    "origin": "Chromium signs the page's own origin into every answer",
    "rp_id": "Chromium's authenticator answers for the RP ID the page asks",
    "replay_challenge": "Chromium answers the challenge of the prompt that is open",
}


def _standard_b64(b64url: Any) -> str | None:
    """base64url (the options' encoding) as the standard base64 CDP wants."""
    if not isinstance(b64url, str) or not b64url:
        return None
    return base64.b64encode(base64.urlsafe_b64decode(b64url + "=" * (-len(b64url) % 4))).decode()


def _only_honest(what: str, misbehave: dict[str, Any]) -> None:
    wanted = sorted(k for k, v in misbehave.items() if v)
    if wanted:
        why = "; ".join(_BROWSERS_WAY.get(k, f"Chromium offers no {k}") for k in wanted)
        raise Unsupported(f"a browser cannot {what} with a passkey that misbehaves "
                          f"({', '.join(wanted)}): {why}")
