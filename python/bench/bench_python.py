"""Python call cost: ``execute_sync`` / ``await execute`` against raw httpx (issue 12).

Runs against an in-process Gmail emulator (``agent_connectors.sandbox``, quotas off) and
prints one JSON object on stdout: per mode (``sync``, ``async``) the median and p99 latency in
µs of ``messages.get`` through the connector and of a raw ``httpx`` GET of the same URL
(``/gmail/v1/users/me/messages/{id}?format=full``, same bearer token, one keep-alive client,
``response.json()``), calls alternating so that drift on a shared machine hits both alike.

    python python/bench/bench_python.py [--iters 3000] [--warmup 300]

Needs the ``agent_connectors`` package (``pip install ./python``; a release build for
meaningful figures: ``MATURIN_PEP517_ARGS="--profile release"``) and ``httpx``. The benchmark
command (``cargo run --release -p tests --bin bench -- --cases python``) runs it with the
interpreter named by ``BENCH_PYTHON`` (default ``python3``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from typing import Any

import httpx

from agent_connectors import sandbox

TOKEN = "sandbox-access-token"


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    rank = max(1, min(len(s), -(-len(s) * p // 100)))
    return s[int(rank) - 1]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_us": statistics.median(samples),
        "p99_us": pct(samples, 99),
        "n": len(samples),
    }


def run_sync(conn: Any, url: str, mid: str, iters: int, warmup: int) -> dict[str, Any]:
    ex: list[float] = []
    raw: list[float] = []
    params = {"message_id": mid}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(http2=False) as client:
        for i in range(warmup + iters):
            t = time.perf_counter()
            r = conn.execute_sync("messages", "get", params)
            d_ex = time.perf_counter() - t
            assert r.result["id"] == mid, r.result
            t = time.perf_counter()
            v = client.get(url, headers=headers).json()
            d_raw = time.perf_counter() - t
            assert v["id"] == mid, v
            if i >= warmup:
                ex.append(d_ex * 1e6)
                raw.append(d_raw * 1e6)
    return {"execute": summary(ex), "raw": summary(raw)}


async def run_async(conn: Any, url: str, mid: str, iters: int, warmup: int) -> dict[str, Any]:
    ex: list[float] = []
    raw: list[float] = []
    params = {"message_id": mid}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(http2=False) as client:
        for i in range(warmup + iters):
            t = time.perf_counter()
            r = await conn.execute("messages", "get", params)
            d_ex = time.perf_counter() - t
            assert r.result["id"] == mid, r.result
            t = time.perf_counter()
            v = (await client.get(url, headers=headers)).json()
            d_raw = time.perf_counter() - t
            assert v["id"] == mid, v
            if i >= warmup:
                ex.append(d_ex * 1e6)
                raw.append(d_raw * 1e6)
    return {"execute": summary(ex), "raw": summary(raw)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=300)
    args = ap.parse_args()
    sb = sandbox.start("gmail", seed=50, quotas=False)
    try:
        conn = sb.connector()
        mid = sb.mailbox()["messages"][0]["id"]  # type: ignore[index]
        url = f"{sb.base_url.rstrip('/')}/gmail/v1/users/me/messages/{mid}?format=full"
        out = {
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "httpx": httpx.__version__,
            "iters": args.iters,
            "sync": run_sync(conn, url, mid, args.iters, args.warmup),
            "async": asyncio.run(run_async(conn, url, mid, args.iters, args.warmup)),
            "requests_seen_by_emulator": sb.stats().get("http_requests"),
        }
        conn.close()
    finally:
        sb.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
