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
from imtui.domain.platforms import PLATFORM_FIELDS, TIMEOUT_SETTINGS

Role = Literal["source", "wms"]


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


def _platform(name: str, build: Callable[..., OrderSource | Warehouse]) -> PlatformInfo:
    """The platform's fields (:data:`imtui.domain.platforms.PLATFORM_FIELDS`, which the
    dashboard's forms show too) with the function that builds its connector."""
    fields = PLATFORM_FIELDS[name]
    return PlatformInfo(
        name=fields.name,
        title=fields.title,
        role=cast(Role, fields.role),
        credential_keys=fields.credential_keys,
        setting_keys=fields.setting_keys,
        optional_setting_keys=fields.optional_setting_keys,
        build=build,
    )


PLATFORMS: dict[str, PlatformInfo] = {
    "shopify": _platform("shopify", _build_shopify),
    "shopify_rest": _platform("shopify_rest", _build_shopify_rest),
    "wms_3pl": _platform("wms_3pl", _build_wms_3pl),
}


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a connection's configuration, and the form field it is about."""

    field: str
    """``platform``, ``url``, ``credential.KEY`` or ``setting.KEY``."""
    message: str
    """The sentence beside that field."""
    listed: tuple[str, str] | None = None
    """(heading, tail) of a problem several keys share: said once for all of them in a list,
    ``heading key1, key2tail`` ("missing credentials: a, b")."""


def config_problems(
    platform: str,
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    role: Role | None = None,
    *,
    credentials_required: bool = True,
) -> list[ConfigProblem]:
    """Everything wrong with a connection's configuration, by field; empty when it can be
    built. ``credentials_required=False``: a credential left out is not a problem (a form that
    keeps the stored ones)."""
    info = PLATFORMS.get(platform)
    if info is None:
        known = ", ".join(sorted(PLATFORMS))
        return [ConfigProblem("platform", f"unknown platform {platform!r} (known: {known})")]
    problems: list[ConfigProblem] = []
    if role is not None and info.role != role:
        problems.append(
            ConfigProblem("platform", f"{platform} is a {info.role} platform, not a {role}")
        )
    problems += _url_problems(base_url)
    if credentials_required:
        problems += _listed(
            "credential",
            [key for key in info.credential_keys if not credentials.get(key)],
            "missing credentials:",
        )
    problems += _listed(
        "setting",
        [key for key in info.setting_keys if not str(settings.get(key) or "")],
        "missing settings:",
    )
    for key in TIMEOUT_SETTINGS:
        if settings.get(key) is not None and not _is_positive_number(settings[key]):
            problems.append(
                ConfigProblem(f"setting.{key}", f"setting {key} must be a positive number")
            )
    version = settings.get("api_version")
    if (
        "api_version" in info.optional_setting_keys
        and version
        and not _API_VERSION.match(str(version))
    ):
        problems.append(
            ConfigProblem(
                "setting.api_version",
                f"setting api_version {version!r} must be a Shopify API version such as "
                f"{DEFAULT_API_VERSION} (YYYY-01, -04, -07 or -10) or unstable",
            )
        )
    return problems


def connection_problems(
    platform: str,
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    role: Role | None = None,
) -> list[str]:
    """Everything wrong with a connection's configuration, one sentence each; empty when
    it can be built. The CLI prints these before saving anything."""
    return said(config_problems(platform, base_url, credentials, settings, role))


def _url_problems(base_url: str) -> list[ConfigProblem]:
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        return [ConfigProblem("url", f"base URL {base_url!r} is not a URL: {exc}")]
    if url.scheme not in ("http", "https") or not url.host:
        return [ConfigProblem("url", f"base URL {base_url!r} must be http(s)://host[:port]")]
    return []


def _listed(kind: str, keys: list[str], heading: str, tail: str = "") -> list[ConfigProblem]:
    return [
        ConfigProblem(f"{kind}.{key}", f"{heading} {key}{tail}", (heading, tail)) for key in keys
    ]


def said(problems: list[ConfigProblem]) -> list[str]:
    """The problems as sentences for one line: those several keys share are said once, listing
    the keys, where the first of them stood."""
    sentences: list[str] = []
    groups: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for problem in problems:
        if problem.listed is None:
            sentences.append(problem.message)
            continue
        key = problem.field.partition(".")[2]
        if problem.listed in groups:
            groups[problem.listed][1].append(key)
            continue
        groups[problem.listed] = (len(sentences), [key])
        sentences.append("")
    for (heading, tail), (at, keys) in groups.items():
        sentences[at] = f"{heading} {', '.join(keys)}{tail}"
    return sentences


def by_field(problems: list[ConfigProblem]) -> dict[str, list[str]]:
    """The problems grouped by the field they are about, for a form to show beside each."""
    fields: dict[str, list[str]] = {}
    for problem in problems:
        fields.setdefault(problem.field, []).append(problem.message)
    return fields


_API_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")


def unknown_key_problems(
    platform: str, credentials: Mapping[str, str], settings: Mapping[str, Any]
) -> list[ConfigProblem]:
    """Credentials and settings the platform has no use for, by field (see :func:`unknown_keys`)."""
    info = PLATFORMS.get(platform)
    if info is None:
        return []
    known = (*info.setting_keys, *info.optional_setting_keys)
    return _listed(
        "credential",
        sorted(set(credentials) - set(info.credential_keys)),
        f"{platform} has no credential",
        f" (its credentials: {', '.join(info.credential_keys)})",
    ) + _listed(
        "setting",
        sorted(set(settings) - set(known)),
        f"{platform} has no setting",
        f" (its settings: {', '.join(known)})",
    )


def unknown_keys(
    platform: str, credentials: Mapping[str, str], settings: Mapping[str, Any]
) -> list[str]:
    """Credentials and settings the platform has no use for, one sentence each: checked when a
    connection is added (a typo such as "acess_token" would otherwise sit there unused, and
    the real key be "missing" only at the first request). Not checked when one is built, so
    a connection saved before this check still runs."""
    return said(unknown_key_problems(platform, credentials, settings))


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


def build_connector(
    platform: str,
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> OrderSource | Warehouse:
    """The connector of whichever role the platform has, for what both roles share (a
    connection test's probe); ConnectionConfigError when unusable."""
    info = PLATFORMS.get(platform)
    role: Role = info.role if info is not None else "source"
    return _build(platform, base_url, credentials, settings, role, transport)


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
