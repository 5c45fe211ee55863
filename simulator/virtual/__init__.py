"""Virtual devices a person would hold: an authenticator app and a passkey."""
