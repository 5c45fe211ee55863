"""A bounded Locust load of full sign-ins that counts wrong verdicts (`clinic2fa load`)."""
