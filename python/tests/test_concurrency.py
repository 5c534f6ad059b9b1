"""The GIL is released during I/O: concurrent calls overlap instead of queueing."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from agent_connectors import GmailConnector, sandbox

LATENCY_MS = 100


@pytest.fixture
def slow_gmail() -> Iterator[GmailConnector]:
    connector = sandbox.gmail(latency_ms=LATENCY_MS, quotas=False)
    connector.execute_sync("profile", "get")  # warm: connection pool, spec, token
    yield connector
    connector.close()


def _one_call_seconds(connector: GmailConnector) -> float:
    start = time.perf_counter()
    connector.execute_sync("profile", "get")
    return time.perf_counter() - start


def test_eight_threads_take_about_one_call(slow_gmail: GmailConnector) -> None:
    one = _one_call_seconds(slow_gmail)
    assert one >= LATENCY_MS / 1000
    barrier = threading.Barrier(8)
    results: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        email = slow_gmail.execute_sync("profile", "get").result["email_address"]
        with lock:
            results.append(email)

    threads = [threading.Thread(target=call) for _ in range(8)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert results == [sandbox.DEMO_USER] * 8
    # Serialised, eight calls would take 8 x one call (>= 0.8 s); overlapping, about one.
    assert elapsed < 3 * one, f"8 threads took {elapsed:.3f}s, one call {one:.3f}s"


def test_python_keeps_running_while_a_call_waits(slow_gmail: GmailConnector) -> None:
    ticks = 0
    done = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        slow_gmail.execute_sync("profile", "get")
    finally:
        done.set()
        spinner.join()
    # With the GIL held for the 100 ms call the spinner could not have run at all.
    assert ticks > 1000


async def test_hundred_asyncio_tasks_take_about_one_call(slow_gmail: GmailConnector) -> None:
    start = time.perf_counter()
    await slow_gmail.execute("profile", "get")
    one = time.perf_counter() - start
    start = time.perf_counter()
    pages = await asyncio.gather(*(slow_gmail.execute("profile", "get") for _ in range(100)))
    elapsed = time.perf_counter() - start
    assert [p.result["email_address"] for p in pages] == [sandbox.DEMO_USER] * 100
    # Serialised: 100 x 0.1 s = 10 s. Overlapping: a few call times at most.
    assert elapsed < max(5 * one, 1.0), f"100 tasks took {elapsed:.3f}s, one call {one:.3f}s"


async def test_the_event_loop_is_free_while_calls_run(slow_gmail: GmailConnector) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    await slow_gmail.execute("profile", "get")
    ticker.cancel()
    assert ticks >= 5, "the loop kept scheduling other tasks during the 100 ms call"


def test_one_connector_serves_several_event_loops_at_once(slow_gmail: GmailConnector) -> None:
    """Each thread runs its own asyncio loop; the connector (and its runtime) is shared."""
    out: list[int] = []

    def run_loop() -> None:
        async def main() -> int:
            pages = await asyncio.gather(*(slow_gmail.execute("profile", "get") for _ in range(5)))
            return len(pages)

        out.append(asyncio.run(main()))

    threads = [threading.Thread(target=run_loop) for _ in range(4)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [5, 5, 5, 5]
    assert time.perf_counter() - start < 1.0  # 20 calls of 0.1 s overlapped
