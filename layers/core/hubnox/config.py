"""One `AppConfig` object: the deployment's configuration from the environment (not a portal's settings).

This is the only module that reads `os.environ`. Secrets come from the environment locally and
from AWS Secrets Manager in a deployment (named by `SECRETS_NAME`), fetched once through Powertools
parameters and cached.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

HUBSPOT_API_URL = "https://api.hubapi.com"
HUBSPOT_AUTH_URL = "https://app.hubspot.com"
FORTNOX_API_URL = "https://api.fortnox.se"
FORTNOX_AUTH_URL = "https://apps.fortnox.se"


class AppConfig(BaseModel):
    """Everything a function needs to know about its environment, validated once."""

    model_config = ConfigDict(frozen=True)

    public_base_url: str = "http://127.0.0.1:8000"
    hubspot_client_id: str = ""
    hubspot_client_secret: SecretStr = SecretStr("")
    hubspot_app_id: str = ""
    hubspot_api_url: str = HUBSPOT_API_URL
    hubspot_auth_url: str = HUBSPOT_AUTH_URL
    fortnox_client_id: str = ""
    fortnox_client_secret: SecretStr = SecretStr("")
    fortnox_api_url: str = FORTNOX_API_URL
    fortnox_auth_url: str = FORTNOX_AUTH_URL
    fortnox_service_account: bool = False
    # Key for everything hubnox signs itself: OAuth state, login links, sessions, Replay links.
    signing_key: SecretStr = SecretStr("")
    table_name: str = "hubnox"
    jobs_queue_url: str = ""
    #: the jobs' dead-letter queue, which the settings page lists and retries from
    jobs_dlq_url: str = ""
    #: the poller's queue: one message per portal to poll
    poll_queue_url: str = ""
    kms_key_id: str = ""
    aws_endpoint_url: str | None = None
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    #: days a portal's data is kept after hubnox was uninstalled from it (0: until an admin deletes it)
    uninstalled_data_retention_days: int = Field(default=30, ge=0)

    @property
    def public_base(self) -> str:
        return self.public_base_url.rstrip("/")


_SECRET_FIELDS = ("hubspot_client_secret", "fortnox_client_secret", "signing_key")


def app_config_from_env(environ: Mapping[str, str] | None = None) -> AppConfig:
    """Build `AppConfig` from environment variables (upper-case field names)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in AppConfig.model_fields:
        raw = env.get(name.upper())
        if raw is not None and raw != "":
            values[name] = raw
    if "fortnox_service_account" in values:
        values["fortnox_service_account"] = str(values["fortnox_service_account"]).lower() in ("1", "true", "yes")
    secrets_name = env.get("SECRETS_NAME")
    if secrets_name:
        stored = _secrets_from_aws(secrets_name)
        for field in _SECRET_FIELDS:
            if field not in values and stored.get(field):
                values[field] = stored[field]
    return AppConfig(**values)


def _secrets_from_aws(name: str) -> dict[str, str]:
    # Imported here so local runs and unit tests never need the parameters utility.
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(name, transform="json", max_age=300)
    return dict(value) if isinstance(value, dict) else {}


@cache
def get_app_config() -> AppConfig:
    """The process-wide settings, read once per container."""
    return app_config_from_env()
