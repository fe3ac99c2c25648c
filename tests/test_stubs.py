"""The committed gRPC stubs are exactly what the .proto files generate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_stubs_match_protos(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_stubs.py"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    committed = ROOT / "proto" / "python" / "quanze" / "v1"
    generated = sorted(p.name for p in (tmp_path / "quanze" / "v1").iterdir())
    assert generated, "protoc generated nothing"
    for name in generated:
        assert (committed / name).read_text() == (tmp_path / "quanze" / "v1" / name).read_text(), (
            f"{name} is stale: run `python scripts/generate_stubs.py`"
        )
