"""HubSpot: the httpx client on the 2026-03 date-based API, request signatures, OAuth, models."""
