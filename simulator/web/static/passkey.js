// "Set up passkey" and "Use a passkey instead": WebAuthn JSON in, WebAuthn JSON out, via the API.
"use strict";
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const alertBox = document.getElementById("alert");

  const showError = (message) => {
    alertBox.textContent = message;
    alertBox.hidden = false;
  };

  // The page's cookie session plus the CSRF header: the API accepts both for its own pages.
  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body || {}),
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      throw new Error((data && data.message) || "Something went wrong. Try again.");
    }
    return data;
  }

  const supported = () => window.PublicKeyCredential
    && typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";

  async function setUp(button) {
    const options = await post("/api/v1/security/passkeys/options");
    const credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
    });
    // The name as it reads once the key answered: it may be typed while the browser asks.
    const name = document.getElementById("passkey-name").value.trim() || "Passkey";
    const result = await post("/api/v1/security/passkeys", {credential: credential.toJSON(), name});
    if (result && result.backup_codes && result.backup_codes.length) {
      showBackupCodes(result.backup_codes);  // the first factor: codes shown this once
      button.disabled = true;
    } else {
      window.location.assign("/settings/security?notice=passkey-added");
    }
  }

  function showBackupCodes(codes) {
    const section = document.getElementById("passkey-backup-codes");
    const list = section.querySelector("ol");
    list.replaceChildren(...codes.map((code) => {
      const item = document.createElement("li");
      const text = document.createElement("code");
      text.textContent = code;
      item.append(text);
      return item;
    }));
    section.hidden = false;
  }

  async function signIn() {
    const options = await post("/api/v1/sign-in/passkey/options");
    const credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
    });
    await post("/api/v1/sign-in/passkey", {credential: credential.toJSON()});
    window.location.assign("/profile");
  }

  const wire = (selector, action) => {
    const button = document.querySelector(selector);
    if (!button) return;
    button.disabled = false;  // shipped disabled: no dead button before this script runs
    button.addEventListener("click", async () => {
      alertBox.hidden = true;
      if (!supported()) {
        showError("This browser cannot use passkeys.");
        return;
      }
      try {
        await action(button);
      } catch (error) {
        showError(error.name === "NotAllowedError"
          ? "The passkey request was cancelled or timed out." : error.message);
      }
    });
  };
  wire("[data-passkey-setup]", setUp);
  wire("[data-passkey-sign-in]", signIn);
})();
