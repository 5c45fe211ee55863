"""The account adapter: sign-up closed, since a clinic's accounts are created by the clinic."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class ClinicAccountAdapter(DefaultAccountAdapter):
    """allauth's adapter with public sign-up turned off; nothing about 2FA is changed."""

    def is_open_for_signup(self, request) -> bool:
        return False
