"""What every layer may know about a platform without its connector: the credential keys a
person gives it (``imtui connection credentials ID KEY=- …``), and the fields a connection
form asks for. The connectors' registry builds on these tables; an email composed in the store
names the same keys, and the dashboard's forms show the same fields."""

from __future__ import annotations

from dataclasses import dataclass

CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    "shopify": ("access_token",),
    "shopify_rest": ("access_token",),
    "wms_3pl": ("client_id", "client_secret", "user_login_id"),
}


def credential_keys(platform: str | None) -> tuple[str, ...]:
    """The platform's credential keys; none for a platform this version does not know."""
    return CREDENTIAL_KEYS.get(platform or "", ())


@dataclass(frozen=True, slots=True)
class PlatformFields:
    """What a person fills in to connect an account to a platform — the connection form's
    fields, and what the CLI checks before saving."""

    name: str
    title: str
    role: str
    """"source" (a shop) or "wms"."""
    credential_keys: tuple[str, ...]
    """Secret values, sealed in the database; all required."""
    setting_keys: tuple[str, ...]
    """Required non-secret settings."""
    optional_setting_keys: tuple[str, ...]


TIMEOUT_SETTINGS = ("read_timeout", "connect_timeout", "deadline", "max_body_mb", "max_connections")
"""Optional on every platform: seconds (read, connect, a whole request's deadline), the largest
response body read in MB (decoded), and the pool size."""

PLATFORM_FIELDS: dict[str, PlatformFields] = {
    "shopify": PlatformFields(
        "shopify",
        "Shopify (Admin GraphQL)",
        "source",
        CREDENTIAL_KEYS["shopify"],
        (),
        ("api_version", *TIMEOUT_SETTINGS),
    ),
    "shopify_rest": PlatformFields(
        "shopify_rest",
        "Shopify (Admin REST, legacy)",
        "source",
        CREDENTIAL_KEYS["shopify_rest"],
        (),
        ("api_version", *TIMEOUT_SETTINGS),
    ),
    "wms_3pl": PlatformFields(
        "wms_3pl",
        "Extensiv 3PL Warehouse Manager",
        "wms",
        CREDENTIAL_KEYS["wms_3pl"],
        ("customer_id", "facility_id"),
        TIMEOUT_SETTINGS,
    ),
}

FIELD_HINTS: dict[str, str] = {
    "access_token": "the app's Admin API access token (shpat_…)",
    "client_id": "the REST API client id (from 3PL Central)",
    "client_secret": "the REST API client secret",
    "user_login_id": "the 3PL user login id the calls are made as",
    "customer_id": "the 3PL customer id of this account",
    "facility_id": "the 3PL facility (warehouse) id",
    "api_version": "optional: YYYY-01/-04/-07/-10 (the connector's own if blank)",
    "read_timeout": "optional: seconds to wait for an answer",
    "connect_timeout": "optional: seconds to wait to connect",
    "deadline": "optional: seconds one request may take in all",
    "max_body_mb": "optional: the largest answer read, in MB",
    "max_connections": "optional: requests at once to this system",
}
"""What each credential and setting is, in a few words: a form's placeholders."""
