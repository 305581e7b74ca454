"""Platform name → connector, so adding a platform is one module plus one entry here.

:data:`PLATFORMS` also says which credential and setting keys each platform needs, so the CLI
(``imtui connection add``) and the TUI forms can validate a connection before saving it,
without knowing anything about the platform's API.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import httpx

from imtui.connectors import shopify_rest
from imtui.connectors.base import OrderSource, Warehouse
from imtui.connectors.http_connection import DEFAULT_DEADLINE, make_timeout
from imtui.connectors.shopify import DEFAULT_API_VERSION, ShopifySource
from imtui.connectors.shopify_rest import ShopifyRestSource
from imtui.connectors.wms_3pl import ThreePLWarehouse
from imtui.domain.platforms import CREDENTIAL_KEYS

Role = Literal["source", "wms"]

TIMEOUT_SETTINGS = ("read_timeout", "connect_timeout", "deadline", "max_body_mb", "max_connections")
"""Optional on every platform: seconds (read, connect, a whole request's deadline), the largest
response body read in MB (decoded), and the pool size."""


class ConnectionConfigError(ValueError):
    """A connection's platform, role, credentials or settings are unusable; the message says
    which keys to fix, for the CLI to print as one line."""


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    """What the CLI and forms need to know about a platform to add a connection for it."""

    name: str
    title: str
    role: Role
    credential_keys: tuple[str, ...]
    """Secret values, stored encrypted/masked; all required."""
    setting_keys: tuple[str, ...]
    """Required non-secret settings."""
    optional_setting_keys: tuple[str, ...]
    """Settings the connector reads when present. Other keys are left alone: the engine keeps
    its own per-connection settings (e.g. a reference prefix) in the same dict."""
    build: Callable[
        [str, Mapping[str, str], Mapping[str, Any], httpx.AsyncBaseTransport | None],
        OrderSource | Warehouse,
    ]


def _build_shopify(
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    transport: httpx.AsyncBaseTransport | None,
) -> OrderSource:
    return ShopifySource(
        base_url,
        credentials["access_token"],
        api_version=str(settings.get("api_version") or DEFAULT_API_VERSION),
        transport=transport,
        timeout=_timeout(settings),
        max_connections=_int_setting(settings, "max_connections", 10),
        **_limits(settings),
    )


def _build_shopify_rest(
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    transport: httpx.AsyncBaseTransport | None,
) -> OrderSource:
    return ShopifyRestSource(
        base_url,
        credentials["access_token"],
        api_version=str(settings.get("api_version") or shopify_rest.DEFAULT_API_VERSION),
        transport=transport,
        timeout=_timeout(settings),
        max_connections=_int_setting(settings, "max_connections", 10),
        **_limits(settings),
    )


def _build_wms_3pl(
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    transport: httpx.AsyncBaseTransport | None,
) -> Warehouse:
    return ThreePLWarehouse(
        base_url,
        client_id=credentials["client_id"],
        client_secret=credentials["client_secret"],
        user_login_id=credentials["user_login_id"],
        customer_id=str(settings["customer_id"]),
        facility_id=str(settings["facility_id"]),
        transport=transport,
        timeout=_timeout(settings),
        max_connections=_int_setting(settings, "max_connections", 100),
        **_limits(settings),
    )


PLATFORMS: dict[str, PlatformInfo] = {
    "shopify": PlatformInfo(
        name="shopify",
        title="Shopify (Admin GraphQL)",
        role="source",
        credential_keys=CREDENTIAL_KEYS["shopify"],
        setting_keys=(),
        optional_setting_keys=("api_version", *TIMEOUT_SETTINGS),
        build=_build_shopify,
    ),
    "shopify_rest": PlatformInfo(
        name="shopify_rest",
        title="Shopify (Admin REST, legacy)",
        role="source",
        credential_keys=CREDENTIAL_KEYS["shopify_rest"],
        setting_keys=(),
        optional_setting_keys=("api_version", *TIMEOUT_SETTINGS),
        build=_build_shopify_rest,
    ),
    "wms_3pl": PlatformInfo(
        name="wms_3pl",
        title="Extensiv 3PL Warehouse Manager",
        role="wms",
        credential_keys=CREDENTIAL_KEYS["wms_3pl"],
        setting_keys=("customer_id", "facility_id"),
        optional_setting_keys=TIMEOUT_SETTINGS,
        build=_build_wms_3pl,
    ),
}


def connection_problems(
    platform: str,
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    role: Role | None = None,
) -> list[str]:
    """Everything wrong with a connection's configuration, one sentence each; empty when
    it can be built. The CLI prints these before saving anything."""
    info = PLATFORMS.get(platform)
    if info is None:
        known = ", ".join(sorted(PLATFORMS))
        return [f"unknown platform {platform!r} (known: {known})"]
    problems: list[str] = []
    if role is not None and info.role != role:
        problems.append(f"{platform} is a {info.role} platform, not a {role}")
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        problems.append(f"base URL {base_url!r} is not a URL: {exc}")
    else:
        if url.scheme not in ("http", "https") or not url.host:
            problems.append(f"base URL {base_url!r} must be http(s)://host[:port]")
    missing = [key for key in info.credential_keys if not credentials.get(key)]
    if missing:
        problems.append(f"missing credentials: {', '.join(missing)}")
    missing = [key for key in info.setting_keys if not str(settings.get(key) or "")]
    if missing:
        problems.append(f"missing settings: {', '.join(missing)}")
    for key in TIMEOUT_SETTINGS:
        if settings.get(key) is not None and not _is_positive_number(settings[key]):
            problems.append(f"setting {key} must be a positive number")
    version = settings.get("api_version")
    if (
        "api_version" in info.optional_setting_keys
        and version
        and not _API_VERSION.match(str(version))
    ):
        problems.append(
            f"setting api_version {version!r} must be a Shopify API version such as "
            f"{DEFAULT_API_VERSION} (YYYY-01, -04, -07 or -10) or unstable"
        )
    return problems


_API_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")


def unknown_keys(
    platform: str, credentials: Mapping[str, str], settings: Mapping[str, Any]
) -> list[str]:
    """Credentials and settings the platform has no use for, one sentence each: checked when a
    connection is added (a typo such as "acess_token" would otherwise sit there unused, and
    the real key be "missing" only at the first request). Not checked when one is built, so
    a connection saved before this check still runs."""
    info = PLATFORMS.get(platform)
    if info is None:
        return []
    problems: list[str] = []
    unknown = sorted(set(credentials) - set(info.credential_keys))
    if unknown:
        problems.append(
            f"{platform} has no credential {', '.join(unknown)} "
            f"(its credentials: {', '.join(info.credential_keys)})"
        )
    known = (*info.setting_keys, *info.optional_setting_keys)
    unknown = sorted(set(settings) - set(known))
    if unknown:
        problems.append(
            f"{platform} has no setting {', '.join(unknown)} (its settings: {', '.join(known)})"
        )
    return problems


def build_source(
    platform: str,
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> OrderSource:
    """The order-source connector for a connection; ConnectionConfigError when unusable."""
    return cast(OrderSource, _build(platform, base_url, credentials, settings, "source", transport))


def build_warehouse(
    platform: str,
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Warehouse:
    """The WMS connector for a connection; ConnectionConfigError when unusable."""
    return cast(Warehouse, _build(platform, base_url, credentials, settings, "wms", transport))


def _build(
    platform: str,
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    role: Role,
    transport: httpx.AsyncBaseTransport | None,
) -> OrderSource | Warehouse:
    problems = connection_problems(platform, base_url, credentials, settings, role)
    if problems:
        raise ConnectionConfigError("; ".join(problems))
    return PLATFORMS[platform].build(base_url, credentials, settings, transport)


def _timeout(settings: Mapping[str, Any]) -> httpx.Timeout:
    read = settings.get("read_timeout")
    connect = settings.get("connect_timeout")
    return make_timeout(
        read=None if read is None else float(read),
        connect=None if connect is None else float(connect),
    )


def _limits(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The whole-request deadline (seconds) and the body cap (bytes) a connection sets, if any:
    the connector's default otherwise (DEFAULT_MAX_BODY)."""
    max_body_mb = settings.get("max_body_mb")
    return {
        "deadline": request_deadline(settings),
        "max_body": None if max_body_mb is None else int(float(max_body_mb) * 1024 * 1024),
    }


def request_deadline(settings: Mapping[str, Any]) -> float:
    """Seconds one request of the connection may take in all: its ``deadline`` setting, else
    DEFAULT_DEADLINE."""
    try:
        seconds = float(settings.get("deadline") or DEFAULT_DEADLINE)
    except (TypeError, ValueError):
        return DEFAULT_DEADLINE
    return seconds if seconds > 0 else DEFAULT_DEADLINE


def _int_setting(settings: Mapping[str, Any], key: str, default: int) -> int:
    value = settings.get(key)
    return default if value is None else int(float(value))


def _is_positive_number(value: Any) -> bool:
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False
