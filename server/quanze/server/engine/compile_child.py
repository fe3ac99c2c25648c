"""`python -m quanze.server.engine.compile_child`: compile policies to an RVM program, elsewhere.

Reads {"data_json": ..., "modules": [[name, source], ...]} from stdin and writes
{"routes": ..., "program": base64} to stdout (exit 0), or the compiler's error to stderr (exit 1):
the per-action routes (`policy.routing`) are planned here too, since reading the modules' AST
takes the GIL for a few hundred milliseconds. A serving worker runs
this in a child process because regorus holds the GIL for the whole compile.
"""

from __future__ import annotations

import base64
import json
import sys

from quanze.server.engine.regorus_engine import compile_program


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    try:
        program, routes = compile_program(
            request["data_json"], [tuple(m) for m in request["modules"]]
        )
    except Exception as exc:  # reported to the worker, which compiles itself instead
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    answer = {"routes": routes.to_json(), "program": base64.b64encode(program).decode()}
    sys.stdout.buffer.write(json.dumps(answer).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
