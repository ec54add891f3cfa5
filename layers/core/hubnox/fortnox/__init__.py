"""Fortnox: the httpx client on API v3, OAuth, models and error explanations."""
