"""What every layer may know about a platform without its connector: the credential keys a
person gives it (``imtui connection credentials ID KEY=- …``). The connectors' registry builds
on this table; an email composed in the store names the same keys."""

from __future__ import annotations

CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    "shopify": ("access_token",),
    "shopify_rest": ("access_token",),
    "wms_3pl": ("client_id", "client_secret", "user_login_id"),
}


def credential_keys(platform: str | None) -> tuple[str, ...]:
    """The platform's credential keys; none for a platform this version does not know."""
    return CREDENTIAL_KEYS.get(platform or "", ())
