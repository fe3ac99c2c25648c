"""Child processes the sidecar waits for (the reload gate's commands, the policy compile)."""

from __future__ import annotations

import asyncio


async def communicate_or_kill(
    child: asyncio.subprocess.Process, data: bytes | None, timeout_s: float
) -> tuple[bytes, bytes]:
    """`child.communicate(data)`; when this is cancelled or `timeout_s` passes, the child is
    killed and waited for (no orphan keeps running), and the error is raised on."""
    try:
        return await asyncio.wait_for(child.communicate(data), timeout_s)
    except (TimeoutError, asyncio.CancelledError):
        child.kill()
        await child.wait()
        raise
