"""Several connections to one sidecar, and which one each call takes.

A sidecar with several workers shares one TCP port among them (SO_REUSEPORT): the kernel puts
each *connection* on a worker, so every call on one connection goes to one worker. A client
with several connections spreads its calls: each call takes the connection with the fewest of
this client's calls in flight, the first of them among equals. Calls made one at a time
therefore stay on the first connection, and so on one worker whose caches are warm (going
round the workers cost a serial caller 0.4-0.6 ms a call on a 2-core machine:
docs/benchmarks.md, "The gRPC path"); calls made at once spread over the connections, and lean
away from one whose worker answers slowly, since its calls stay in flight longer.
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
        """The connection with the fewest calls in flight; the first of them among equals."""
        if len(self._stubs) == 1:
            return 0, self._stubs[0]
        with self._lock:
            in_flight = self._in_flight
            best = in_flight.index(min(in_flight))
            in_flight[best] += 1
        return best, self._stubs[best]

    def give(self, index: int) -> None:
        """The call on connection `index` is over."""
        if len(self._stubs) > 1:
            with self._lock:
                self._in_flight[index] -= 1
