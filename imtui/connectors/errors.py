"""The one place where a remote failure becomes a :class:`~imtui.domain.failures.Failure`.

Every connector hands its httpx exceptions and non-2xx responses to this module, so the
failure-class table in docs/design.md is implemented exactly once:

- nothing reached the remote (connect refused/timeout, DNS, pool exhausted) → TRANSIENT;
- the remote asked us to wait (429, 503 with Retry-After) → TRANSIENT with ``retry_after``;
- the remote may or may not have acted (other 5xx, read timeout, reset, unreadable body) →
  OUTCOME_UNKNOWN on a send, TRANSIENT on a read (a lost read changes nothing remotely);
- the remote refused the record (400/422) → NEEDS_PERSON with the most specific alert kind,
  or DUPLICATE when the WMS says it already has the reference;
- the remote refused us (401 after a refresh, 403) → CONNECTION.

Messages carry the remote system's own words; transport errors get a short sentence naming the
host and port, never the URL's query, headers or credentials. Every remote text that becomes a
message goes through :func:`redact_credentials` (an error page may quote our Authorization
header back), and only a bounded prefix of a body is ever scanned, so a hostile error page costs
the same little CPU as a polite one.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import socket
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

import httpx

from imtui.connectors.json_fields import lookup, text
from imtui.domain.failures import AlertKind, Failure, FailureClass

MESSAGE_LIMIT = 2000
"""Longest message kept from a remote body; a 500 page can be megabytes of stack trace."""

SNIPPET_LIMIT = 300
"""How much of an unreadable body to quote: enough to recognise a proxy page, no more."""

HEADER_LIMIT = 200
"""How much of a remote header (Content-Type, Location) a message quotes."""

BODY_SCAN_LIMIT = 64 * 1024
"""Bytes of an error body read for its words. The message keeps at most MESSAGE_LIMIT
characters, but an HTML page can spend many kilobytes on styles and scripts before its first
word; past this prefix nothing is looked at, whatever the body's size."""

FLATTEN_DEPTH = 20
"""How deep :func:`flatten_shopify_errors` follows nested lists and dicts; a hostile body can
nest hundreds of levels, which would exhaust the stack."""


class UnexpectedShape(Exception):
    """Raised by a connector's parsing when a success body lacks what the API promises; the
    connector turns it into :func:`unreadable_body`'s BAD_RESPONSE failure."""


class CallKind(StrEnum):
    """Whether a request can change something remotely; decides what a lost answer means."""

    SEND = "send"
    """Creates or changes a remote record: a lost answer leaves the outcome unknown."""
    READ = "read"
    """Changes nothing remotely: a lost answer is simply retried."""


def failure_from_exception(exc: httpx.HTTPError, call: CallKind) -> Failure:
    """The failure for an exception httpx raised while sending or receiving."""
    # An exception's text can quote what was sent (a proxy's refusal, a URL with a token).
    return _redacted(_failure_from_exception(exc, call))


def _failure_from_exception(exc: httpx.HTTPError, call: CallKind) -> Failure:
    where = _host_of(exc)
    timeouts = _timeouts_of(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return _unreachable(f"no connection to {where} within {_seconds(timeouts, 'connect')}")
    if isinstance(exc, httpx.PoolTimeout):
        return _pool_failure(where, _seconds(timeouts, "pool"))
    if isinstance(exc, httpx.ConnectError):
        return _unreachable(_connect_error_text(exc, where))
    if isinstance(exc, httpx.ProxyError):
        return _unreachable(f"proxy refused the connection to {where}: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        # A mistyped base URL never heals by retrying: pause the connection for a person.
        return Failure(FailureClass.CONNECTION, AlertKind.UNREACHABLE, f"{exc} ({where})")
    if isinstance(exc, httpx.ReadTimeout):
        message = f"no response from {where} within {_seconds(timeouts, 'read')}"
        return _lost_answer(call, AlertKind.REMOTE_ERROR, message)
    if isinstance(exc, httpx.WriteTimeout):
        message = f"could not finish sending to {where} within {_seconds(timeouts, 'write')}"
        return _lost_answer(call, AlertKind.REMOTE_ERROR, message)
    if isinstance(exc, httpx.RemoteProtocolError):
        message = f"{where} closed the connection without a complete response ({exc})"
        return _lost_answer(call, AlertKind.REMOTE_ERROR, message)
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.CloseError):
        detail = _root_cause_text(exc)
        return _lost_answer(
            call, AlertKind.REMOTE_ERROR, f"connection to {where} was reset{detail}"
        )
    if isinstance(exc, httpx.DecodingError):
        message = f"unreadable response from {where}: {exc}"
        return _lost_answer(call, AlertKind.BAD_RESPONSE, message)
    message = f"{type(exc).__name__} talking to {where}: {exc}"
    return _lost_answer(call, AlertKind.REMOTE_ERROR, message)


def pool_exhausted(base_url: httpx.URL, waited: float) -> Failure:
    """Every pooled connection stayed busy for the whole pool timeout; nothing was sent."""
    return _pool_failure(origin(base_url), f"{waited:g} s")


def failure_from_response(response: httpx.Response, call: CallKind) -> Failure:
    """The failure for a response that is not a success (any status outside 2xx)."""
    return _redacted(_failure_from_response(response, call))


def _failure_from_response(response: httpx.Response, call: CallKind) -> Failure:
    status = response.status_code
    message = remote_message(response)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status in (401, 403):
        return Failure(
            FailureClass.CONNECTION, AlertKind.CREDENTIALS_REJECTED, message, status=status
        )
    if status == 429:
        return Failure(
            FailureClass.TRANSIENT,
            AlertKind.RATE_LIMITED,
            message,
            status=status,
            retry_after=retry_after,
        )
    if status == 503 and retry_after is not None:
        # The server says it did not take the request and when to come back: nothing unknown.
        return Failure(
            FailureClass.TRANSIENT,
            AlertKind.REMOTE_ERROR,
            message,
            status=status,
            retry_after=retry_after,
        )
    if status == 408:
        return Failure(FailureClass.TRANSIENT, AlertKind.REMOTE_ERROR, message, status=status)
    if status >= 500:
        return _lost_answer(call, AlertKind.REMOTE_ERROR, message, status=status)
    if 300 <= status < 400:
        # We never follow redirects (they could carry the token to another host); one means
        # the base URL is wrong, which only a person can fix.
        location = _bounded(response.headers.get("location", ""), HEADER_LIMIT)
        return Failure(
            FailureClass.CONNECTION,
            AlertKind.UNREACHABLE,
            f"HTTP {status} redirect to {location or 'an unnamed location'}: "
            "check the connection's base URL",
            status=status,
        )
    if 400 <= status < 500:
        return _rejection(response, message)
    return unreadable_body(response, call, f"unexpected HTTP {status}")


def unreadable_body(response: httpx.Response, call: CallKind, reason: str) -> Failure:
    """The failure for a response whose body is not what the API promises (HTML, cut-off JSON,
    missing fields): on a send the remote may well have acted, so the outcome is unknown."""
    content_type = _bounded(response.headers.get("content-type", "no content type"), HEADER_LIMIT)
    snippet = _bounded(_body_text(response), SNIPPET_LIMIT)
    message = (
        f"unreadable response from {origin(response.request.url)} "
        f"(HTTP {response.status_code}, {content_type}): {reason}"
    )
    if snippet:
        message = f"{message}: {snippet}"
    return _redacted(
        _lost_answer(call, AlertKind.BAD_RESPONSE, message, status=response.status_code)
    )


def shape_problem(exc: Exception) -> str:
    """Why a body could not be parsed, for :func:`unreadable_body`'s reason.

    Connectors raise :class:`UnexpectedShape` for what they foresaw; anything else a parser
    raises on a remote body (an out-of-range date, a quantity of ``NaN``, a structure nested
    past the stack) is just as much the body's fault, and must become the same BAD_RESPONSE
    failure instead of escaping as a crash."""
    if isinstance(exc, UnexpectedShape):
        return str(exc)
    return f"the body has a shape we cannot read ({type(exc).__name__}: {exc})"


def parse_json(response: httpx.Response) -> tuple[Any, str | None]:
    """The decoded JSON body, or None and the reason it could not be read."""
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type:
        return None, "expected JSON, got an HTML page"
    try:
        return json.loads(response.content), None
    except RecursionError:
        # json.loads recurses once per level: "[[[[…" a hundred thousand deep exhausts the
        # stack. A body no real API sends, but it must be a bad response, not a crash.
        return None, "JSON body is nested too deeply to read"
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"JSON body is malformed or cut off ({exc})"
    except Exception as exc:  # anything else json raises is the body's fault too
        return None, f"JSON body cannot be read ({type(exc).__name__}: {exc})"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def remote_message(response: httpx.Response) -> str:
    """The remote system's own words for an error response, verbatim and trimmed."""
    body, _ = parse_json(response)
    if body is not None:
        words = _json_error_words(body)
        if words:
            return _bounded(words, MESSAGE_LIMIT)
    raw = _body_text(response)
    if raw:
        return _bounded(raw, MESSAGE_LIMIT)
    reason = response.reason_phrase or "no reason given"
    return f"HTTP {response.status_code} {reason} with an empty body"


def flatten_shopify_errors(errors: Any, _depth: int = 0) -> str:
    """Shopify's ``errors`` (a string, a list, or a dict of field → list) as one sentence.

    ``{"title": ["can't be blank"]}`` becomes ``title can't be blank``, which is how Shopify's
    own admin words it; ``base`` errors are about the whole record and keep no field prefix.
    Nesting deeper than :data:`FLATTEN_DEPTH` is shown as ``…``.
    """
    if isinstance(errors, str):
        return errors
    if _depth >= FLATTEN_DEPTH and isinstance(errors, list | dict):
        return "…"
    if isinstance(errors, list):
        return "; ".join(flatten_shopify_errors(item, _depth + 1) for item in errors)
    if isinstance(errors, dict):
        parts: list[str] = []
        for name, problems in errors.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                words = flatten_shopify_errors(problem, _depth + 1)
                parts.append(words if name == "base" else f"{name} {words}")
        return "; ".join(parts)
    return json.dumps(errors)


def redact_credentials(text: str) -> str:
    """``text`` with the value of every credential it quotes replaced by ``[redacted]``.

    Error pages of debugging proxies and web frameworks echo the request's headers, so the
    ``Authorization`` value (``Basic`` base64 of id:secret, ``Bearer`` token, any scheme),
    ``access_token=…`` / ``"access_token": "…"``, ``client_secret`` and similar fields would
    otherwise reach the alert and its email. Each pattern is a single left-to-right scan.
    """
    text = _AUTHORIZATION_VALUE.sub(_keep_key_and_scheme, text)
    text = _SECRET_FIELD.sub(_keep_key, text)
    text = _BEARER.sub(r"\g<scheme>[redacted]", text)
    return _BASIC.sub(_redact_basic, text)


# --- rejections (4xx) -------------------------------------------------------------------------

_SKU_IN_HINT = re.compile(r"\bsku\s+'([^']*)'", re.IGNORECASE)
_FIELD_IN_HINT = re.compile(r"\b((?:ShipTo|RoutingInfo)\.\w+)", re.IGNORECASE)


def _rejection(response: httpx.Response, message: str) -> Failure:
    """A 4xx that is about the record, not the connection: a person must change something.

    Only the remote's structured error (the WMS's ErrorCode / Hint / Properties, Shopify's
    ``errors`` field names) says which field it refused. A page of free text (a proxy's HTML, a
    plain-text "Bad Request") is a plain rejection with the remote's words: a word such as
    "address" in it names no field of ours.
    """
    status = response.status_code
    body, _ = parse_json(response)
    if not isinstance(body, dict):
        return Failure(FailureClass.NEEDS_PERSON, AlertKind.VALIDATION, message, status=status)
    code = text(body, "ErrorCode")
    hint = text(body, "Hint")
    properties = _properties(body)
    folded_code = code.casefold()

    if "duplicate" in folded_code:
        return Failure(FailureClass.DUPLICATE, AlertKind.VALIDATION, message, status=status)

    # A property naming the field wins whatever the code: "DoesNotExist" with Sku=TENT-XL is
    # an unknown SKU as surely as "InvalidSku" is. Only a code about the quantity keeps it a
    # plain rejection (it names the SKU whose quantity is wrong, not an unknown one). A SKU
    # merely mentioned in the hint counts only when there is no code to say otherwise.
    property_sku = properties.get("sku")
    hint_sku = _first_group(_SKU_IN_HINT, hint)
    about_quantity = any(word in folded_code for word in ("qty", "quantity"))
    sku = property_sku or hint_sku
    if "sku" in folded_code or (property_sku and not about_quantity) or (hint_sku and not code):
        return Failure(
            FailureClass.NEEDS_PERSON, AlertKind.UNKNOWN_SKU, message, status=status, sku=sku
        )

    carrier_field = _carrier_property(body)
    field = properties.get("field") or carrier_field or _first_group(_FIELD_IN_HINT, hint)
    about = f"{folded_code} {(field or '').casefold()}"
    if carrier_field or any(word in about for word in ("carrier", "mode", "shipmethod")):
        return Failure(
            FailureClass.NEEDS_PERSON,
            AlertKind.UNKNOWN_CARRIER,
            message,
            status=status,
            field=field,
        )

    field = field or _single_shopify_field(body)
    if _is_address_field(field) or (not field and "address" in f"{folded_code} {hint}".casefold()):
        return Failure(
            FailureClass.NEEDS_PERSON,
            AlertKind.ADDRESS_REJECTED,
            message,
            status=status,
            field=field,
        )
    return Failure(
        FailureClass.NEEDS_PERSON, AlertKind.VALIDATION, message, status=status, field=field
    )


_CARRIER_PROPERTIES = frozenset(
    {
        "carrier",
        "mode",
        "shipmethod",
        "routinginfo.carrier",
        "routinginfo.mode",
        "routinginfo.shipmethod",
    }
)
"""Names (case-folded) of a 3PL error property that carry the refused carrier or service."""


def _carrier_property(body: Any) -> str | None:
    """The name, as the remote wrote it, of the first error property about the carrier."""
    items = lookup(body, "Properties")
    for item in items if isinstance(items, list) else ():
        name = text(item, "Name")
        if name.casefold() in _CARRIER_PROPERTIES:
            return name
    return None


def _properties(body: Any) -> dict[str, str]:
    """The 3PL error's ``Properties[{Name, Value}]`` as a dict with case-folded names."""
    found: dict[str, str] = {}
    items = lookup(body, "Properties")
    if not isinstance(items, list):
        return found
    for item in items:
        name = text(item, "Name").casefold()
        value = text(item, "Value")
        if name and value and name not in found:
            found[name] = value
    return found


def _single_shopify_field(body: Any) -> str | None:
    errors = lookup(body, "errors")
    if isinstance(errors, dict) and len(errors) == 1:
        (name,) = errors
        return None if name == "base" else str(name)
    return None


def _is_address_field(field: str | None) -> bool:
    if not field:
        return False
    folded = field.casefold()
    return folded.startswith("shipto") or "address" in folded


def _first_group(pattern: re.Pattern[str], value: str) -> str | None:
    match = pattern.search(value)
    return match.group(1) if match else None


def _json_error_words(body: Any) -> str:
    """The human part of a JSON error body in any of the shapes our remotes use."""
    errors = lookup(body, "errors")
    if errors:
        return flatten_shopify_errors(errors)
    code, hint = text(body, "ErrorCode"), text(body, "Hint")
    if code or hint:
        return f"{code}: {hint}" if code and hint else code or hint
    error, description = text(body, "error"), text(body, "error_description")
    if error or description:
        return f"{error}: {description}" if error and description else error or description
    return text(body, "Message")


# --- transport errors --------------------------------------------------------------------------


def _unreachable(message: str) -> Failure:
    return Failure(FailureClass.TRANSIENT, AlertKind.UNREACHABLE, message)


def _pool_failure(where: str, waited: str) -> Failure:
    return _unreachable(
        f"no free connection to {where} within {waited} (every pooled connection busy)"
    )


def _lost_answer(
    call: CallKind, kind: AlertKind, message: str, *, status: int | None = None
) -> Failure:
    """A request that went out but whose answer is missing or unusable."""
    failure_class = (
        FailureClass.OUTCOME_UNKNOWN if call is CallKind.SEND else FailureClass.TRANSIENT
    )
    return Failure(failure_class, kind, message, status=status)


def _connect_error_text(exc: httpx.ConnectError, where: str) -> str:
    url = _request_url(exc)
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            host = url.host if url is not None else where
            return f"cannot resolve host name {host}: {cause.strerror or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {where}"
    return f"cannot connect to {where}{_root_cause_text(exc)}"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from, outermost first (cycles cut)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _root_cause_text(exc: BaseException) -> str:
    words = str(_causes(exc)[-1])
    return f" ({words})" if words else ""


def _request_url(exc: httpx.HTTPError) -> httpx.URL | None:
    try:
        return exc.request.url
    except RuntimeError:  # raised when httpx had not built the request yet
        return None


def _host_of(exc: httpx.HTTPError) -> str:
    url = _request_url(exc)
    return origin(url) if url is not None else "the remote host"


def origin(url: httpx.URL | str) -> str:
    """``host:port`` only: the path and query may carry identifiers we don't want in alerts."""
    url = httpx.URL(url)
    return f"{url.host}:{url.port}" if url.port else url.host


def _timeouts_of(exc: httpx.HTTPError) -> dict[str, float | None]:
    try:
        timeouts = exc.request.extensions.get("timeout", {})
    except RuntimeError:
        return {}
    return timeouts if isinstance(timeouts, dict) else {}


def _seconds(timeouts: dict[str, float | None], which: str) -> str:
    value = timeouts.get(which)
    return f"{value:g} s" if isinstance(value, int | float) else "the time allowed"


# --- bodies ------------------------------------------------------------------------------------

# Markup is removed by one left-to-right pass: `<[^<>]*>` cannot run past the next `<`, so no
# start position rescans the rest of the body (the old `<[^>]+>` and a lazy `.*?</script>`
# rescanned it from every `<`: 28 s of CPU for a 240 KB page of unclosed <script> tags).
_MARKUP = re.compile(r"<(?:(script|style)\b[^<>]*>|[^<>]*>)", re.IGNORECASE)
_CLOSING = {
    "script": re.compile(r"</script\s*>", re.IGNORECASE),
    "style": re.compile(r"</style\s*>", re.IGNORECASE),
}
_SPACE = re.compile(r"\s+")


def _body_text(response: httpx.Response) -> str:
    """The start of the body as plain text: HTML pages (proxies, load balancers) reduced to
    their words. Only the first :data:`BODY_SCAN_LIMIT` bytes are looked at."""
    head = response.content[:BODY_SCAN_LIMIT]
    try:
        raw = head.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:
        raw = head.decode("utf-8", errors="replace")
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type or raw.lstrip().startswith("<"):
        return _SPACE.sub(" ", strip_markup(raw)).strip()
    return raw.strip()


def strip_markup(html: str) -> str:
    """The words of an HTML fragment: tags removed, ``<script>``/``<style>`` with their
    content, in time linear in its length. A script or style never closed drops the rest (it
    is code, not words); a ``<`` that opens no tag is kept as text."""
    words: list[str] = []
    position = 0
    while True:
        tag = _MARKUP.search(html, position)
        if tag is None:
            words.append(html[position:])
            break
        words.append(html[position : tag.start()])
        name = tag.group(1)
        if name is None:
            position = tag.end()
            continue
        closing = _CLOSING[name.lower()].search(html, tag.end())
        if closing is None:
            break
        position = closing.end()
    return " ".join(words)


def _bounded(value: str, limit: int) -> str:
    """``value`` trimmed to ``limit`` characters with any quoted credential redacted.

    Redaction runs on a prefix a little longer than the limit, so its cost is bounded too and
    a credential straddling the cut is still caught whole."""
    return _trim(redact_credentials(value[: limit + _REDACTION_MARGIN]), limit)


_REDACTION_MARGIN = 512


def _trim(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


# --- credentials -------------------------------------------------------------------------------

_REDACTED = "[redacted]"

_AUTHORIZATION_VALUE = re.compile(
    r"""(?P<key>\b(?:proxy-)?authorization\b["']?\s*[:=]\s*["']?)"""
    r"""(?P<scheme>[A-Za-z][\w-]*[ \t]+)?"""
    r"""(?P<value>[^\s"',;]+)""",
    re.IGNORECASE,
)
"""An ``Authorization`` header quoted as ``Authorization: <scheme> <credential>`` (or as a
JSON/dict entry); whatever the scheme, its credential goes."""

_SECRET_FIELD = re.compile(
    r"""(?P<key>\b(?:x-shopify-access-token|access[_-]token|refresh[_-]token|id[_-]token"""
    r"""|client[_-]secret|api[_-]key|password)\b["']?\s*[:=]\s*)"""
    r"""(?:(?P<quote>["'])(?P<quoted>[^"'\r\n]*)(?P=quote)?|(?P<value>[^\s"'&,;}\]]+))""",
    re.IGNORECASE,
)
"""A named secret as a query parameter, header, JSON or Python-dict entry."""

_BEARER = re.compile(r"(?P<scheme>\bbearer\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)
"""``Bearer <token>`` anywhere (RFC 6750's b64token alphabet)."""

_BASIC = re.compile(r"(?P<scheme>\bbasic\s+)(?P<value>[A-Za-z0-9+/]{8,}={0,2})", re.IGNORECASE)
"""``Basic <base64>`` anywhere; see :func:`_redact_basic` for which words are credentials."""


def _keep_key_and_scheme(match: re.Match[str]) -> str:
    return f"{match.group('key')}{match.group('scheme') or ''}{_REDACTED}"


def _keep_key(match: re.Match[str]) -> str:
    quote = match.group("quote")
    if quote is None:
        return f"{match.group('key')}{_REDACTED}"
    return f"{match.group('key')}{quote}{_REDACTED}{quote}"


def _redact_basic(match: re.Match[str]) -> str:
    """Redact when the word after "Basic" is a credential: base64 of ``id:secret``, or cut
    short but with the digits or symbols prose does not have ("Basic authentication failed"
    keeps its words)."""
    value = match.group("value")
    if any(char.isdigit() or char in "+/=" for char in value) or _is_basic_pair(value):
        return f"{match.group('scheme')}{_REDACTED}"
    return match.group(0)


def _is_basic_pair(value: str) -> bool:
    try:
        return b":" in base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False


def _redacted(failure: Failure) -> Failure:
    message = redact_credentials(failure.message)
    return failure if message == failure.message else replace(failure, message=message)


# --- Shopify Admin GraphQL ----------------------------------------------------------------------
#
# GraphQL answers most failures with HTTP 200: top-level ``errors`` for a query the schema
# refuses, a missing access scope (ACCESS_DENIED), THROTTLED and INTERNAL_SERVER_ERROR; and a
# mutation's ``userErrors`` for a record it refuses. Whatever is about the whole endpoint (a
# missing scope, a query the API version does not know, a 404 on graphql.json, a frozen or
# locked shop) gets a connection-scoped alert kind, so one cause is one alert however many
# orders or SKUs run into it.


def graphql_error_codes(errors: Any) -> list[str]:
    """``errors[].extensions.code`` of a GraphQL answer, upper case, in order."""
    codes = []
    for error in errors if isinstance(errors, list) else ():
        code = text(error, "extensions.code")
        if code:
            codes.append(code.upper())
    return codes


def graphql_error_words(errors: Any) -> str:
    """The ``message`` of each top-level error, joined: the remote's own words, bounded."""
    words = []
    for error in errors if isinstance(errors, list) else [errors]:
        message = text(error, "message") if isinstance(error, dict) else text({"m": error}, "m")
        if message:
            words.append(message.strip())
    return _bounded("; ".join(words) or "the shop answered errors without a message", MESSAGE_LIMIT)


def failure_from_graphql_errors(errors: Any, call: CallKind, *, api_version: str) -> Failure:
    """The failure for an answer with top-level ``errors`` (HTTP 200), THROTTLED aside (the
    connector waits that out and retries)."""
    codes = graphql_error_codes(errors)
    words = graphql_error_words(errors)
    if "THROTTLED" in codes:
        return Failure(FailureClass.TRANSIENT, AlertKind.RATE_LIMITED, words)
    if "ACCESS_DENIED" in codes:
        # A scope the app was not granted: nothing on this connection that needs it can work
        # until a person grants it (the 403 of GraphQL).
        return _redacted(
            Failure(FailureClass.CONNECTION, AlertKind.CREDENTIALS_REJECTED, words, status=200)
        )
    if "INTERNAL_SERVER_ERROR" in codes:
        return _redacted(_lost_answer(call, AlertKind.REMOTE_ERROR, words, status=200))
    # A query the schema refuses (a field or argument this API version does not have, a cost
    # over the single-query limit): every call of this kind fails alike until imtui or the
    # connection's api_version changes. Retried each cycle, so it heals with the fix.
    return _redacted(
        Failure(
            FailureClass.TRANSIENT,
            AlertKind.BAD_CONFIGURATION,
            f"the shop refused imtui's query (Admin API {api_version}): {words}",
            status=200,
        )
    )


def failure_from_graphql_status(
    response: httpx.Response, call: CallKind, *, api_version: str
) -> Failure:
    """The failure for a non-2xx answer from the GraphQL endpoint. 401/403, 429 and 5xx read
    as for REST; the statuses that are about the whole shop or endpoint are connection-wide."""
    status = response.status_code
    if status in (402, 423):
        why = (
            "the shop is frozen until its Shopify bill is paid (402 Payment Required)"
            if status == 402
            else "Shopify has locked the shop (423 Locked); only Shopify support unlocks it"
        )
        message = (
            f"{why}: {remote_message(response)}. The connection is paused; once the shop "
            "is open again, re-enter its access token to resume."
        )
        return _redacted(
            Failure(FailureClass.CONNECTION, AlertKind.CREDENTIALS_REJECTED, message, status=status)
        )
    if status == 404:
        message = (
            f"HTTP 404 from {origin(response.request.url)} for the Admin GraphQL endpoint "
            f"(API {api_version}): check the connection's base URL and api_version setting: "
            f"{remote_message(response)}"
        )
        return _redacted(
            Failure(FailureClass.CONNECTION, AlertKind.BAD_CONFIGURATION, message, status=status)
        )
    if 400 <= status < 500 and status not in (401, 403, 408, 429):
        # A request the endpoint cannot read at all is imtui's problem, not one record's.
        return _redacted(
            Failure(
                FailureClass.TRANSIENT,
                AlertKind.BAD_CONFIGURATION,
                f"the shop refused imtui's request (HTTP {status}, Admin API {api_version}): "
                f"{remote_message(response)}",
                status=status,
            )
        )
    return failure_from_response(response, call)


USER_ERROR_CODES: dict[str, tuple[FailureClass, AlertKind]] = {
    "INVALID_INVENTORY_ITEM": (FailureClass.NEEDS_PERSON, AlertKind.UNKNOWN_SKU),
    "ITEM_NOT_STOCKED_AT_LOCATION": (FailureClass.NEEDS_PERSON, AlertKind.VALIDATION),
    "NON_MUTABLE_INVENTORY_ITEM": (FailureClass.NEEDS_PERSON, AlertKind.VALIDATION),
    "INVALID_QUANTITY_NEGATIVE": (FailureClass.NEEDS_PERSON, AlertKind.VALIDATION),
    "INVALID_QUANTITY_TOO_HIGH": (FailureClass.NEEDS_PERSON, AlertKind.VALIDATION),
    "INVALID_QUANTITY_TOO_LOW": (FailureClass.NEEDS_PERSON, AlertKind.VALIDATION),
    # stale compare values and idempotency races heal by trying again
    "CHANGE_FROM_QUANTITY_STALE": (FailureClass.TRANSIENT, AlertKind.REMOTE_ERROR),
    "COMPARE_QUANTITY_STALE": (FailureClass.TRANSIENT, AlertKind.REMOTE_ERROR),
    "IDEMPOTENCY_CONCURRENT_REQUEST": (FailureClass.TRANSIENT, AlertKind.REMOTE_ERROR),
    "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED": (FailureClass.TRANSIENT, AlertKind.REMOTE_ERROR),
    # about the connection or imtui's request, the same for every SKU
    "INVALID_LOCATION": (FailureClass.TRANSIENT, AlertKind.BAD_CONFIGURATION),
    "INVALID_NAME": (FailureClass.TRANSIENT, AlertKind.BAD_CONFIGURATION),
    "INVALID_REASON": (FailureClass.TRANSIENT, AlertKind.BAD_CONFIGURATION),
    "INVALID_REFERENCE_DOCUMENT": (FailureClass.TRANSIENT, AlertKind.BAD_CONFIGURATION),
    "COMPARE_QUANTITY_REQUIRED": (FailureClass.TRANSIENT, AlertKind.BAD_CONFIGURATION),
    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH": (FailureClass.TRANSIENT, AlertKind.BAD_CONFIGURATION),
}
"""A mutation's ``userErrors[].code`` → how it is treated; codes not listed are read from the
field path (see :func:`failure_from_user_errors`)."""


def failure_from_user_errors(user_errors: Any, *, sku: str | None = None) -> Failure:
    """The failure for a mutation's ``userErrors`` (HTTP 200): the first error's code, else its
    ``field`` path, decides; the message is every error's own words with its field."""
    errors = (
        [e for e in user_errors if isinstance(e, dict)] if isinstance(user_errors, list) else []
    )
    parts = []
    for error in errors:
        path = _field_path(error)
        message = text(error, "message")
        parts.append(f"{path}: {message}" if path and message else message or path)
    message = _bounded("; ".join(p for p in parts if p) or "the shop refused it", MESSAGE_LIMIT)
    first = errors[0] if errors else {}
    code = text(first, "code").upper()
    path = _field_path(first)
    if code in USER_ERROR_CODES:
        failure_class, kind = USER_ERROR_CODES[code]
        return _redacted(Failure(failure_class, kind, message, sku=sku, field=path or None))
    folded = path.casefold()
    if "address" in folded:
        kind = AlertKind.ADDRESS_REJECTED
    elif "sku" in folded or "inventoryitem" in folded:
        kind = AlertKind.UNKNOWN_SKU
    else:
        kind = AlertKind.VALIDATION
    return _redacted(Failure(FailureClass.NEEDS_PERSON, kind, message, sku=sku, field=path or None))


def _field_path(error: Any) -> str:
    field = lookup(error, "field")
    if isinstance(field, list):
        return ".".join(str(part) for part in field[:FLATTEN_DEPTH])
    return text(error, "field")


__all__ = [
    "BODY_SCAN_LIMIT",
    "MESSAGE_LIMIT",
    "CallKind",
    "UnexpectedShape",
    "failure_from_exception",
    "failure_from_graphql_errors",
    "failure_from_graphql_status",
    "failure_from_response",
    "failure_from_user_errors",
    "flatten_shopify_errors",
    "graphql_error_codes",
    "graphql_error_words",
    "parse_json",
    "parse_retry_after",
    "pool_exhausted",
    "redact_credentials",
    "remote_message",
    "shape_problem",
    "strip_markup",
    "unreadable_body",
]


def list_of(body: Any, key: str) -> list[Any]:
    """The list at ``key`` of a JSON body; an UnexpectedShape when it is missing or not one."""
    items = lookup(body, key)
    if not isinstance(items, list):
        raise UnexpectedShape(f"{key} is missing or not a list")
    return items


def as_duplicate(failure: Failure) -> Failure:
    """The remote already has what was sent (a fulfilment made before): a success to link."""
    return Failure(
        FailureClass.DUPLICATE,
        failure.kind,
        failure.message,
        status=failure.status,
        field=failure.field,
    )
