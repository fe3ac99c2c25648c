"""Test helpers shipped for users: run a real sidecar in-process on a real socket.

    with running_server() as address:          # "127.0.0.1:PORT"
        client = Client(address)

The server runs on its own thread with its own event loop, and its engine on a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

from quanze.server import workers
from quanze.server.config import Config, ServerConfig
from quanze.server.engine.base import EngineFactory


@contextlib.contextmanager
def running_server(
    config: Config | None = None,
    *,
    address: str = "127.0.0.1:0",
    engine_factory: EngineFactory | None = None,
    timeout: float = 30.0,
) -> Iterator[str]:
    """Start a one-worker sidecar on `address`; yield its address once SERVING; then stop it."""
    # Tests start and stop many servers: without a configuration, stop at once.
    config = config or Config(server=ServerConfig(shutdown_delay_seconds=0.0))
    config = dataclasses.replace(
        config, server=dataclasses.replace(config.server, address=address, workers=1)
    )
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, Any] = {}

    def on_serving(bound: str) -> None:
        state["address"] = bound
        started.set()

    async def main() -> None:
        state["stop"] = asyncio.Event()
        await workers.run_worker(
            config, stop=state["stop"], on_serving=on_serving, engine_factory=engine_factory
        )

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced to the caller below
            state["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=run, name="quanze-test-server", daemon=True)
    thread.start()
    if not started.wait(timeout) or "error" in state:
        raise RuntimeError(f"the test server did not start: {state.get('error')!r}")
    try:
        yield state["address"]
    finally:
        loop.call_soon_threadsafe(state["stop"].set)
        thread.join(timeout)
        loop.close()
        if "error" in state:
            raise state["error"]
