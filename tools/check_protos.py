"""Checks proto/ with buf: its lint rules, and no breaking change against the released protos.

`buf lint` holds the protos to buf's STANDARD rules (one request and one response message per
RPC, named after it; package versions; enum zero values). `buf breaking` compares them with
proto/released.binpb, a buf image of the protos as last released: removing or renumbering a
field, changing its type, renaming a message or an RPC fails. Both are configured in buf.yaml.

At a release, once the protos are as released, `--release` writes the image again: from then
on that is the contract. buf itself comes from npm (@bufbuild/buf, pinned in tools/buf/).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from tools import npm_tools

ROOT = Path(__file__).resolve().parent.parent
BUF_PACKAGE = Path(__file__).resolve().parent / "buf"
RELEASED = Path("proto") / "released.binpb"


def buf() -> Path:
    return npm_tools.installed(BUF_PACKAGE, "buf") / ".bin" / "buf"


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """buf with `args` in `root` (a folder with buf.yaml and proto/), its output captured."""
    return subprocess.run(
        [str(buf()), *args], cwd=root, capture_output=True, text=True, timeout=300, check=False
    )


def problems(root: Path) -> list[str]:
    """What buf lint and buf breaking find in root's protos; empty when they pass."""
    found: list[str] = []
    for what, args in (
        ("buf lint", ("lint",)),
        ("buf breaking", ("breaking", "--against", str(RELEASED))),
    ):
        result = run(root, *args)
        if result.returncode != 0:
            found.append(f"{what}:\n{result.stdout}{result.stderr}".rstrip())
    return found


def release(root: Path) -> None:
    """Writes root's protos as the released contract that later protos must not break."""
    result = run(root, "build", "--exclude-source-info", "-o", str(RELEASED))
    if result.returncode != 0:
        raise SystemExit(f"buf build failed:\n{result.stdout}{result.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--release",
        action="store_true",
        help=f"make today's protos the released contract ({RELEASED})",
    )
    args = parser.parse_args()
    if args.release:
        release(ROOT)
        print(f"wrote {RELEASED}")
        return 0
    found = problems(ROOT)
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
