"""A client spreads calls over several connections once one is backed up, and so over a
sidecar's workers.

The kernel gives each TCP connection to one worker of `quanze serve --workers 2` (they share the
port with SO_REUSEPORT); which worker a decision reached is the stream (`w0`, `w1`) of its
decision record, and which connection it came on is the record's `peer`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from quanze.client import AsyncClient, Client
from quanze.client._connections import SPILL_AT, Spread
from quanze.server.decisionlog import records
from tests.integration.support import start, stop, wait_event, wait_serving
from tests.server.decisionlog.support import records_in
from tests.support import CONTRACT_EXAMPLE

REQUEST = json.loads(CONTRACT_EXAMPLE)
# All of them on one of two workers happens once in 2**15 runs (the kernel hashes each
# connection's addresses and ports to pick a worker).
CONNECTIONS = 16


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`quanze serve --workers 2` on a TCP port, both workers serving, one decision log."""
    log_dir = tmp_path / "log"
    process = start(
        "--address=127.0.0.1:0",
        "--workers=2",
        f"--decision-log={log_dir}",
        # Room for every call the tests start at once, so none is shed.
        f"--set=server.max_concurrent_calls={SPILL_AT * CONNECTIONS}",
        cwd=tmp_path,
    )
    try:
        address = str(wait_event(process, "starting_workers")["address"])
        wait_event(process, "policies_loaded")
        wait_event(process, "policies_loaded")
        wait_serving(address)
        yield address, log_dir
    finally:
        assert stop(process) == 0
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def _where(log_dir: Path) -> tuple[set[str], set[str]]:
    """The workers (streams) that decided, and the connections (peers) the calls came on."""
    decided = records_in(log_dir, records.DECISION)
    assert decided
    return {r["labels"]["stream"] for r in decided}, {r["caller"]["peer"] for r in decided}


@pytest.mark.slow
def test_calls_made_one_at_a_time_stay_on_one_connection_and_one_worker(
    two_workers: tuple[str, Path],
) -> None:
    address, log_dir = two_workers
    with Client(address, timeout=10, connections=CONNECTIONS) as client:
        answers = [client.check(REQUEST) for _ in range(20)]
    assert all(answer.allowed for answer in answers)

    workers, peers = _where(log_dir)
    assert (len(workers), len(peers)) == (1, 1)


@pytest.mark.slow
def test_concurrent_calls_of_an_async_client_reach_both_workers(
    two_workers: tuple[str, Path],
) -> None:
    address, log_dir = two_workers

    async def ask() -> list[bool]:
        async with AsyncClient(address, timeout=30, connections=CONNECTIONS) as client:
            # Started together, before any answer: SPILL_AT calls fill each connection in turn.
            calls = (client.check(REQUEST) for _ in range(SPILL_AT * CONNECTIONS))
            answers = await asyncio.gather(*calls)
        return [answer.allowed for answer in answers]

    assert asyncio.run(ask()) == [True] * SPILL_AT * CONNECTIONS
    workers, peers = _where(log_dir)
    assert len(peers) == CONNECTIONS
    assert workers == {"w0", "w1"}


@pytest.mark.slow
def test_concurrent_calls_of_a_client_with_one_connection_stay_on_one_worker(
    two_workers: tuple[str, Path],
) -> None:
    address, log_dir = two_workers

    async def ask() -> None:
        async with AsyncClient(address, timeout=10, connections=1) as client:
            await asyncio.gather(*(client.check(REQUEST) for _ in range(CONNECTIONS)))

    asyncio.run(ask())
    workers, peers = _where(log_dir)
    assert (len(workers), len(peers)) == (1, 1)


def test_calls_share_the_first_connection_until_it_is_backed_up_then_spill_over() -> None:
    spread = Spread(["a", "b", "c"])
    # One call at a time: always the first.
    for _ in range(3):
        index, stub = spread.take()
        assert (index, stub) == (0, "a")
        spread.give(index)

    # At once: the first takes SPILL_AT, then the second, then the third.
    taken = [spread.take()[1] for _ in range(3 * SPILL_AT)]
    assert taken == ["a"] * SPILL_AT + ["b"] * SPILL_AT + ["c"] * SPILL_AT
    # All backed up: the least busy, the first of them among equals.
    assert [spread.take() for _ in range(3)] == [(0, "a"), (1, "b"), (2, "c")]
    # One drains below SPILL_AT: it takes the next call.
    spread.give(2)
    spread.give(2)
    assert spread.take() == (2, "c")


def test_connections_must_be_a_positive_whole_number_and_not_beside_a_channel() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Client("127.0.0.1:1", connections=0)
    with pytest.raises(TypeError, match="whole number"):
        Client("127.0.0.1:1", connections=2.0)  # type: ignore[arg-type]
    with grpc.insecure_channel("127.0.0.1:1") as channel:
        with pytest.raises(ValueError, match="not both"):
            Client("127.0.0.1:1", channel=channel, connections=4)
        Client("127.0.0.1:1", channel=channel, connections=1).close()
    with pytest.raises(ValueError, match="at least 1"):
        AsyncClient("127.0.0.1:1", connections=-1)
