"""The connectors' HTTP stack — httpx on aiohttp (connectors/aiohttp_transport.py) — keeps every
promise the httpcore stack kept: each way a connection can fail is the failure class it was
(above all: an answer lost after the request went out is never "nothing was sent"), nothing is
sent twice behind the engine's back, TLS is verified, no cookie is kept, and a connection left
mid-body never carries the next answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from imtui.connectors.aiohttp_transport import AiohttpTransport, _kind_of
from imtui.connectors.errors import CallKind
from imtui.connectors.http_connection import HttpConnection, _merged
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass
from tests.hostile_remote import HostileRemote, Reply, gzipped, json_reply

Act = Callable[[socket.socket, bytes], None]
"""What a raw server does with a connection once it has read a request (its head and body)."""


class RawServer:
    """A loopback server of blocking sockets that reads each request and then does whatever
    ``act`` does: answer, hang up, reset, send garbage. ``requests`` counts what came in."""

    def __init__(self, act: Act, *, tls: ssl.SSLContext | None = None) -> None:
        self._act = act
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.requests = 0

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            conn.settimeout(5)
            while (request := _read_request(conn)) is not None:
                self.requests += 1
                self._act(conn, request)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head


def reset(conn: socket.socket, request: bytes) -> None:
    """Read the request, then reset the connection (RST, not FIN)."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def hang_up(conn: socket.socket, request: bytes) -> None:
    conn.shutdown(socket.SHUT_RDWR)


def cut_body(conn: socket.socket, request: bytes) -> None:
    """Promise 100 bytes, send 10, hang up."""
    conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n" + b'{"id": 123')
    conn.shutdown(socket.SHUT_RDWR)


def garbage(conn: socket.socket, request: bytes) -> None:
    conn.sendall(b"HELLO THERE\r\n\r\n")
    conn.shutdown(socket.SHUT_RDWR)


def answer(conn: socket.socket, request: bytes) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
    )


async def failure_of(http: HttpConnection, method: str, call: CallKind) -> Failure:
    try:
        with pytest.raises(ConnectorError) as caught:
            await http.request(method, "/orders", call=call, json={"referenceNum": "R-1"})
    finally:
        await http.aclose()
    return caught.value.failure


@pytest.mark.parametrize("act", [reset, hang_up, cut_body, garbage])
async def test_an_answer_lost_after_the_send_went_out_leaves_the_outcome_unknown(act: Act) -> None:
    with RawServer(act) as server:
        http = HttpConnection(f"http://127.0.0.1:{server.port}", timeout=2.0)
        failure = await failure_of(http, "POST", CallKind.SEND)
    assert failure.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert failure.kind is AlertKind.REMOTE_ERROR
    assert f"127.0.0.1:{server.port}" in failure.message
    assert server.requests == 1


async def test_a_garbled_answer_is_told_without_the_path_or_query_it_answered() -> None:
    with RawServer(garbage) as server:
        http = HttpConnection(f"http://127.0.0.1:{server.port}", timeout=2.0)
        with pytest.raises(ConnectorError) as caught:
            await http.request("GET", "/orders", call=CallKind.READ, params={"rql": "ref==R-7"})
        await http.aclose()
    message = caught.value.failure.message
    assert "Bad status line" in message
    assert "/orders" not in message and "R-7" not in message


@pytest.mark.parametrize("act", [reset, hang_up, cut_body, garbage])
async def test_the_same_lost_answer_to_a_read_is_transient_and_not_sent_again(act: Act) -> None:
    # aiohttp sends an idempotent request again when its connection drops; ours does not.
    with RawServer(act) as server:
        http = HttpConnection(f"http://127.0.0.1:{server.port}", timeout=2.0)
        failure = await failure_of(http, "GET", CallKind.READ)
    assert failure.failure_class is FailureClass.TRANSIENT
    assert server.requests == 1


def test_every_aiohttp_error_means_what_it_meant_from_httpcore() -> None:
    key = SimpleNamespace(host="wms.example", port=443, ssl=True)
    sent: list[aiohttp.ClientError] = [
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        aiohttp.ClientConnectionResetError("Cannot write to closing transport"),
        aiohttp.ClientPayloadError("Response payload is not completed"),
        aiohttp.ClientResponseError(None, (), status=400, message="bad status line"),  # type: ignore[arg-type]
        aiohttp.SocketTimeoutError("Timeout on reading data from socket"),
        aiohttp.ClientConnectionError("Connection closed"),
    ]
    unsent: list[aiohttp.ClientError] = [
        aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused")),  # type: ignore[arg-type]
        aiohttp.ClientConnectorDNSError(key, OSError(-2, "Name or service not known")),  # type: ignore[arg-type]
        aiohttp.ConnectionTimeoutError("Connection timeout to host"),
    ]
    nothing_sent = (httpx.ConnectError, httpx.ConnectTimeout)
    assert [kind for kind in map(_kind_of, sent) if issubclass(kind, nothing_sent)] == []
    assert all(issubclass(_kind_of(exc), nothing_sent) for exc in unsent)
    assert _kind_of(aiohttp.ConnectionTimeoutError("t")) is httpx.ConnectTimeout
    assert _kind_of(aiohttp.SocketTimeoutError("t")) is httpx.ReadTimeout
    assert _kind_of(aiohttp.InvalidURL("ftp://x")) is httpx.UnsupportedProtocol


def test_a_payload_error_caused_by_a_reset_reads_as_a_reset() -> None:
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as cause:
            raise aiohttp.ClientPayloadError("Response payload is not completed") from cause
    except aiohttp.ClientPayloadError as exc:
        assert _kind_of(exc) is httpx.ReadError


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A TLS server context whose certificate (for 127.0.0.1) no CA vouches for."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


async def test_a_certificate_no_ca_vouches_for_is_refused_before_anything_is_sent(
    self_signed: ssl.SSLContext,
) -> None:
    with RawServer(answer, tls=self_signed) as server:
        http = HttpConnection(f"https://127.0.0.1:{server.port}", timeout=2.0)
        failure = await failure_of(http, "POST", CallKind.SEND)
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.UNREACHABLE
    assert "certificate verify failed" in failure.message
    assert server.requests == 0


async def test_no_cookie_a_remote_sets_is_kept_or_sent_back() -> None:
    routes = {
        ("GET", "/login"): Reply(200, {"set-cookie": "session=abc123; Path=/"}, b"{}"),
        ("GET", "/orders"): json_reply(200, {}),
    }
    with HostileRemote(routes) as remote:
        http = HttpConnection(remote.url)
        first = await http.request("GET", "/login", call=CallKind.READ)
        await http.request("GET", "/orders", call=CallKind.READ)
        await http.aclose()
    assert first.headers["set-cookie"] == "session=abc123; Path=/"
    assert "cookie" not in remote.requests[-1].headers


async def test_a_connection_left_mid_body_never_carries_the_next_answer() -> None:
    routes = {
        ("GET", "/big"): Reply(200, {"content-type": "application/json"}, b" " * 200_000),
        ("GET", "/small"): json_reply(200, {"ok": True}),
    }
    with HostileRemote(routes) as remote:
        http = HttpConnection(remote.url, max_connections=1, max_body=10_000)
        with pytest.raises(ConnectorError) as caught:
            await http.request("GET", "/big", call=CallKind.READ)
        small = await http.request("GET", "/small", call=CallKind.READ)
        await http.aclose()
    assert "larger than" in caught.value.failure.message
    assert small.json() == {"ok": True}


async def test_a_connection_read_to_its_end_is_used_again() -> None:
    with RawServer(answer) as server:
        http = HttpConnection(f"http://127.0.0.1:{server.port}", max_connections=1)
        for _ in range(3):
            response = await http.request("GET", "/orders", call=CallKind.READ)
            assert response.json() == {}
        await http.aclose()
    assert server.requests == 3


def test_a_transport_used_by_a_later_event_loop_opens_a_pool_of_its_own() -> None:
    transport = AiohttpTransport(4)
    client = httpx.AsyncClient(transport=transport)

    async def get(url: str) -> int:
        return (await client.get(url)).status_code

    async def get_then_close_its_pool(url: str) -> int:
        status = await get(url)
        assert transport._session is not None
        await transport._session.close()  # as if the loop had ended with the pool still open
        return status

    async def get_then_close(url: str) -> int:
        status = await get(url)
        await client.aclose()
        return status

    with RawServer(answer) as server:
        url = f"http://127.0.0.1:{server.port}/orders"
        assert asyncio.run(get_then_close_its_pool(url)) == 200
        assert asyncio.run(get_then_close(url)) == 200
    assert server.requests == 2


async def test_a_header_aiohttp_will_not_send_fails_the_request_and_sends_nothing() -> None:
    with RawServer(answer) as server:
        http = HttpConnection(f"http://127.0.0.1:{server.port}")
        with pytest.raises(ConnectorError) as caught:
            await http.request(
                "GET", "/orders", call=CallKind.READ, headers={"X-Note": "a\r\nX-Evil: 1"}
            )
        await http.aclose()
    assert "header injection" in caught.value.failure.message
    assert server.requests == 0


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://wms.example", "/orders"),
        ("http://wms.example/", "orders"),
        ("https://shop.example/admin/api/2026-10", "/graphql.json"),
        ("https://shop.example/admin/api/2026-10/", "/orders/123?fields=id%2Cname"),
        ("https://shop.example/admin", "https://other.example/page?page_info=abc"),
    ],
)
def test_urls_are_merged_with_the_base_url_exactly_as_httpx_merges_them(
    base: str, url: str
) -> None:
    client = httpx.AsyncClient(base_url=base)
    assert _merged(client.base_url, url) == client.build_request("GET", url).url


async def test_params_still_merge_into_a_url_parsed_once() -> None:
    with HostileRemote({("GET", "/orders"): json_reply(200, {})}) as remote:
        http = HttpConnection(remote.url)
        for page in (1, 2):
            await http.request("GET", "/orders", call=CallKind.READ, params={"pgnum": page})
        await http.aclose()
    assert [request.query for request in remote.requests] == ["pgnum=1", "pgnum=2"]


@pytest.fixture
def closed_port() -> Iterator[int]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port: int = holder.getsockname()[1]
    holder.close()
    yield port


async def test_a_refused_connection_is_transient_and_says_so(closed_port: int) -> None:
    http = HttpConnection(f"http://127.0.0.1:{closed_port}")
    failure = await failure_of(http, "POST", CallKind.SEND)
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.message == f"connection refused by 127.0.0.1:{closed_port}"


def _as_sent(request: httpx.Request) -> tuple[str, str, list[tuple[bytes, bytes]], bytes]:
    """What goes on the wire: the headers as written (names in their case), the body."""
    return request.method, str(request.url), sorted(request.headers.raw), request.read()


@pytest.mark.parametrize(
    ("method", "url", "options"),
    [
        ("POST", "/orders", {"json": {"referenceNum": "Ré-1", "qty": 2}, "headers": {"X-A": "1"}}),
        ("GET", "/orders", {"params": {"pgnum": 2, "rql": "a==b"}}),
        ("POST", "/graphql.json", {"content": "{}", "headers": {"content-type": "text/x"}}),
        ("PUT", "/orders/7", {}),
        ("GET", "/orders", {"headers": {"accept-encoding": "identity"}}),
    ],
)
async def test_a_request_sent_straight_to_the_transport_is_the_one_the_client_builds(
    method: str, url: str, options: dict[str, object]
) -> None:
    """Host, the client's headers under the caller's, the body's length and type, timeouts:
    the same bytes go out as through ``AsyncClient.send``."""
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    http = HttpConnection(
        "http://wms.example:8080/api",
        headers={"Accept": "application/hal+json"},
        transport=httpx.MockTransport(record),
    )
    await http.request(method, url, call=CallKind.READ, **options)  # type: ignore[arg-type]
    await http.aclose()
    built = http.client.build_request(method, url, **options)  # type: ignore[arg-type]
    assert _as_sent(sent[0]) == _as_sent(built)
    assert sent[0].extensions["timeout"] == built.extensions["timeout"]


async def test_a_response_read_past_the_client_is_whole_and_decoded() -> None:
    body = json.dumps({"orders": ["x" * 5000]}).encode()
    routes = {("GET", "/orders"): gzipped(Reply(200, {"content-type": "application/json"}, body))}
    with HostileRemote(routes) as remote:
        http = HttpConnection(remote.url)
        response = await http.request("GET", "/orders", call=CallKind.READ)
        await http.aclose()
    assert response.content == body
    assert await response.aread() == body
    assert response.json() == {"orders": ["x" * 5000]}
    assert response.headers["content-length"] == str(len(body))
    assert "content-encoding" not in response.headers
    assert response.request.url == f"{remote.url}/orders"


async def test_a_failure_straight_from_the_transport_names_the_host() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")  # as a transport may: without the request

    http = HttpConnection("http://wms.example:8443", transport=httpx.MockTransport(refuse))
    failure = await failure_of(http, "POST", CallKind.SEND)
    assert "wms.example:8443" in failure.message


async def test_a_closed_connection_sends_nothing() -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    http = HttpConnection("http://wms.example", transport=httpx.MockTransport(record))
    await http.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await http.request("GET", "/orders", call=CallKind.READ)
    assert sent == []
