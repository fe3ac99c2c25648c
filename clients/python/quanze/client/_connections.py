"""Several connections to one sidecar, and which one each call takes.

A sidecar with several workers shares one TCP port among them (SO_REUSEPORT): the kernel puts
each *connection* on a worker, so every call on one connection goes to one worker. A client
with several connections spreads its calls, but only once one connection is backed up: a call
takes the first connection with fewer than `SPILL_AT` of this client's calls in flight, or, when
every one has that many, the one with the fewest. Until then every call shares the first
connection, and so one worker whose caches are warm and one connection that carries many calls
per system call; spread thinner, the same calls cost more CPU on both sides (docs/benchmarks.md,
"The gRPC path": a serial caller going round two workers paid 0.4-0.6 ms a call; concurrent
calls spread over 4 connections per process doubled the open loop's p50). Calls that pile up on
a worker that cannot keep up spill over to the other connections, and so, as the kernel placed
them, to other workers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Generic, TypeVar

_Stub = TypeVar("_Stub")

# Enough that two or four workers each get some of a client's connections (the kernel picks a
# worker per connection by a hash: with 4 connections and 2 workers, all 4 land on one worker
# once in 8 clients); cheap, since a connection is opened only when a call first takes it, and
# only concurrent calls take more than the first.
DEFAULT_CONNECTIONS = 4
# Calls in flight on a connection before the next call takes another: a worker that holds this
# many of one client's calls is behind (at ~1 ms a decision, 8 ms of queue), well before
# `server.max_concurrent_calls` (32 by default) sheds.
SPILL_AT = 8
# gRPC shares one connection among channels to the same target unless each has its own pool.
OWN_CONNECTION = ("grpc.use_local_subchannel_pool", 1)


def check_connections(connections: int) -> int:
    """`connections` if it is a usable number of connections."""
    if isinstance(connections, bool) or not isinstance(connections, int):
        raise TypeError(f"connections must be a whole number, got {connections!r}")
    if connections < 1:
        raise ValueError(f"connections must be at least 1, got {connections!r}")
    return connections


class Spread(Generic[_Stub]):
    """Stubs on connections of their own; `take` the one a call should use, `give` it back."""

    def __init__(self, stubs: Sequence[_Stub]) -> None:
        self._stubs = list(stubs)
        self._in_flight = [0] * len(self._stubs)
        self._lock = threading.Lock()  # the sync client is shared by threads

    def take(self) -> tuple[int, _Stub]:
        """The first connection with fewer than SPILL_AT calls in flight, else the least busy."""
        if len(self._stubs) == 1:
            return 0, self._stubs[0]
        with self._lock:
            in_flight = self._in_flight
            best = next((i for i, n in enumerate(in_flight) if n < SPILL_AT), -1)
            if best < 0:
                best = in_flight.index(min(in_flight))
            in_flight[best] += 1
        return best, self._stubs[best]

    def give(self, index: int) -> None:
        """The call on connection `index` is over."""
        if len(self._stubs) > 1:
            with self._lock:
                self._in_flight[index] -= 1
