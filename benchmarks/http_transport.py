"""CPU per request of the HTTP client stack: the same order POSTs through each transport.

Run:  python benchmarks/http_transport.py [--requests 5000] [--concurrency 64] [--latency 0.05]
      [--runs 3] [--max-connections 100] [--variants NAME,...]

5,000 WMS order creations (a realistic three-line order body, the answer parsed) against the
sandbox WMS, served in its own process with 50 ms of added latency, 64 at a time. Each variant
is run ``--runs`` times, interleaved with the others so a neighbour's load falls on all of
them alike; the figures are medians. CPU is this process's CPU time (user + system) divided by
the requests made: the client stack's own cost, the figure issue 15 is about. The target is
the engine's — at most 0.4 ms of CPU per delivered order in all, claims and outcome writes
included — so a transport has to cost well under that.

Variants (the first three run by default):

- ``before``: the connector on httpcore with its pool split into pools of five — the
  transport before issue 15, kept below (:class:`ShardedPoolTransport`): the same-run
  baseline. The connection's own savings (no cookie jar, URLs parsed once) apply to it too,
  so the gap to ``connector`` is the transport's alone;
- ``connector``: the connector as it builds its client now (httpx on aiohttp, one pool);
- ``aiohttp``: aiohttp alone, the same POST, headers and JSON parse, no httpx: the floor;
- ``httpcore-one-pool``: the connector on httpx's own transport, one pool of
  ``--max-connections`` (slow: run it with fewer requests);
- ``httpx-aiohttp``: the connector on the ``httpx-aiohttp`` package's transport (not a
  dependency: ``pip install httpx-aiohttp`` first).

``--concurrency 256 --max-connections 1000`` shows what a large pool costs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from imtui.connectors.wms_3pl import ThreePLWarehouse
from imtui.domain.records import Address, OrderLine, WmsOrderRequest

TARGET_CPU_MS = 0.4
"""The engine's whole budget per delivered order (issue 15); the transport's share is less."""


def sandbox_process(conn: Any, latency: float) -> None:
    """Child process: serve the sandbox until told to stop."""
    from imtui.sandbox import Sandbox

    with Sandbox(seed=1, latency=latency) as sb:
        conn.send((sb.wms_url, dict(sb.wms_credentials)))
        conn.recv()


def order_request(reference: str) -> WmsOrderRequest:
    """An order as the engine sends one: a full address and three lines."""
    return WmsOrderRequest(
        reference=reference,
        customer_id="1",
        facility_id="1",
        carrier="UPS",
        mode="03",
        billing_code="Prepaid",
        ship_to=Address(
            name="Ada Okafor",
            company="Okafor Analytical Engines",
            address1="1 Main St",
            address2="Suite 400",
            city="Austin",
            state="TX",
            zip="78701",
            country="US",
            phone="+1 512 555 0100",
        ),
        lines=(OrderLine("SKU-1", 1), OrderLine("SKU-2", 3), OrderLine("SKU-7", 2)),
    )


@dataclass(frozen=True)
class Result:
    cpu_ms: float
    """Process CPU per request, milliseconds."""
    wall_s: float
    ok: int
    load: float
    """The 1-minute load average when the run ended."""


Send = Callable[[str], Awaitable[None]]


async def _drive(send: Send, prefix: str, requests: int, concurrency: int) -> tuple[float, int]:
    """``requests`` sends by ``concurrency`` workers; the wall time and how many succeeded."""
    next_index = iter(range(requests))
    succeeded = 0

    async def worker() -> None:
        nonlocal succeeded
        for n in next_index:
            await send(f"{prefix}-{n}")
            succeeded += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, succeeded


async def _measure(
    send: Send, prefix: str, requests: int, concurrency: int
) -> tuple[float, float, int]:
    """Warm up (token, connections), then time ``requests`` sends: CPU s, wall s, successes."""
    await _drive(send, f"{prefix}-warm", concurrency, concurrency)
    cpu_before = time.process_time()
    wall, ok = await _drive(send, prefix, requests, concurrency)
    return time.process_time() - cpu_before, wall, ok


def _warehouse(url: str, credentials: dict[str, str], **options: Any) -> ThreePLWarehouse:
    return ThreePLWarehouse(
        url,
        credentials["client_id"],
        credentials["client_secret"],
        credentials["user_login_id"],
        "1",
        "1",
        **options,
    )


class ShardedPoolTransport(httpx.AsyncBaseTransport):
    """The transport before issue 15: ``max_connections`` split over httpcore pools of five,
    each request sent to the least busy (httpcore's per-request cost grows with its pool)."""

    def __init__(self, max_connections: int, shard_size: int = 5) -> None:
        count = -(-max_connections // shard_size)
        sizes = [max_connections // count + (i < max_connections % count) for i in range(count)]
        context = httpx.create_ssl_context()
        self._shards = [
            httpx.AsyncHTTPTransport(
                verify=context,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            for size in sizes
        ]
        self._busy = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._shards)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            self._busy[index] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Releasing(response.stream, lambda: self._release(index)),
            extensions=response.extensions,
        )

    def _release(self, index: int) -> None:
        self._busy[index] -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class _Releasing(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


def _transport(name: str, max_connections: int) -> httpx.AsyncBaseTransport | None:
    if name == "before":
        return ShardedPoolTransport(max_connections)
    if name == "httpcore-one-pool":
        limits = httpx.Limits(max_connections=max_connections)
        return httpx.AsyncHTTPTransport(limits=limits)
    if name == "httpx-aiohttp":
        import httpx_aiohttp

        limits = httpx.Limits(max_connections=max_connections)
        return httpx_aiohttp.AiohttpTransport(limits=limits)
    return None


async def run_connector(name: str, args: argparse.Namespace, prefix: str) -> tuple[float, ...]:
    url, credentials = args.urls
    wms = _warehouse(
        url,
        credentials,
        max_connections=args.max_connections,
        transport=_transport(name, args.max_connections),
    )

    async def send(reference: str) -> None:
        await wms.create_order(order_request(reference))

    try:
        return await _measure(send, prefix, args.requests, args.concurrency)
    finally:
        await wms.aclose()


async def run_aiohttp(args: argparse.Namespace, prefix: str) -> tuple[float, ...]:
    """The floor: aiohttp alone, the connector's body, bearer header and JSON parse."""
    url, credentials = args.urls
    body_of = _warehouse(url, credentials)._order_body
    connector = aiohttp.TCPConnector(limit=args.max_connections)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        form = {"grant_type": "client_credentials", "user_login_id": credentials["user_login_id"]}
        basic = aiohttp.encode_basic_auth(credentials["client_id"], credentials["client_secret"])
        async with session.post(
            "/AuthServer/api/Token", json=form, headers={"Authorization": basic}
        ) as answer:
            token = (await answer.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/hal+json"}

        async def send(reference: str) -> None:
            payload = json.dumps(body_of(order_request(reference)))
            async with session.post(
                "/orders",
                data=payload,
                headers={**headers, "Content-Type": "application/json"},
            ) as response:
                created = json.loads(await response.read())
                if response.status != 201 or "readOnly" not in created:
                    raise RuntimeError(f"HTTP {response.status}: {created}")

        return await _measure(send, prefix, args.requests, args.concurrency)


def run_variant(name: str, args: argparse.Namespace, run: int) -> Result:
    prefix = f"HT-{name}-{run}"
    if name == "aiohttp":
        cpu, wall, ok = asyncio.run(run_aiohttp(args, prefix))
    else:
        cpu, wall, ok = asyncio.run(run_connector(name, args, prefix))
    return Result(cpu * 1000 / max(ok, 1), wall, ok, os.getloadavg()[0])


VARIANTS = {
    "before": "before: httpcore, pools of 5 (baseline)",
    "connector": "connector now: httpx on aiohttp, one pool",
    "aiohttp": "aiohttp alone (the floor)",
    "httpcore-one-pool": "httpcore, one pool",
    "httpx-aiohttp": "httpx-aiohttp 0.2 transport",
}
DEFAULT_VARIANTS = ("before", "connector", "aiohttp")


def report(results: dict[str, list[Result]], args: argparse.Namespace) -> None:
    print(
        f"\n{args.requests:,} POST /orders, concurrency {args.concurrency}, latency "
        f"{args.latency * 1000:.0f} ms, max {args.max_connections} connections, "
        f"median of {args.runs}; load at start {args.load_at_start}"
    )
    baseline = statistics.median(r.cpu_ms for r in results["before"]) if "before" in results else 0
    print(f"{'variant':<44} {'CPU/request':>12} {'wall':>7} {'vs base':>8}  each run (ms)")
    for name, runs in results.items():
        cpu = statistics.median(r.cpu_ms for r in runs)
        wall = statistics.median(r.wall_s for r in runs)
        each = " ".join(f"{r.cpu_ms:.3f}" for r in runs)
        ratio = f"{cpu / baseline:.2f}x" if baseline else ""
        failed = sum(args.requests - r.ok for r in runs)
        note = f"  ({failed} FAILED)" if failed else ""
        print(f"{VARIANTS[name]:<44} {cpu:>9.3f} ms {wall:>6.1f}s {ratio:>8}  {each}{note}")
    ideal = args.requests * args.latency / args.concurrency
    print(f"ideal wall for the concurrency: {ideal:.1f} s (the sandbox shares the machine)")
    loads = [f"{r.load:.2f}" for runs in results.values() for r in runs]
    print(f"load (1 min) after each run: {' '.join(loads)}")
    print(f"target: <= {TARGET_CPU_MS} ms CPU per delivered order for the whole engine")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    args = parser.parse_args()
    names = [name for name in args.variants.split(",") if name]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    if "httpx-aiohttp" in names and importlib.util.find_spec("httpx_aiohttp") is None:
        parser.error("the httpx-aiohttp variant needs `pip install httpx-aiohttp` first")

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=sandbox_process, args=(child, args.latency), daemon=True)
    server.start()
    args.urls = parent.recv()
    args.load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results: dict[str, list[Result]] = {name: [] for name in names}
    try:
        for run in range(args.runs):
            for name in names:
                results[name].append(run_variant(name, args, run))
    finally:
        parent.send("stop")
        server.join(timeout=10)
    report(results, args)
    return 0 if all(r.ok == args.requests for runs in results.values() for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
