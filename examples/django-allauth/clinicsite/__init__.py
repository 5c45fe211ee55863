"""The host site around django-allauth[mfa]: settings, URLs, a home page and the seeded accounts."""
