"""Generates the Python code for proto/ into gen/python/, or checks it is current.

The proto folder mirrors the import path (proto/stackline/auth/v1/auth.proto is
package stackline.auth.v1), so generating with `-I proto` gives modules that
import each other as `stackline.<service>.v1` with no path rewriting.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc_tools

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "gen" / "python"


def generate(out: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    # mypy-protobuf's plugins live beside this interpreter, which need not be on PATH.
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{well_known}",
            f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            f"--mypy_out={out}",
            f"--mypy_grpc_out={out}",
            *protos,
        ],
        cwd=PROTO_DIR,
        # mypy-protobuf announces every file it writes; show the output only on failure.
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"protoc failed with exit code {result.returncode}")


def differences(expected: Path, actual: Path) -> list[str]:
    expected_files = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()}
    actual_files = {p.relative_to(actual) for p in actual.rglob("*") if p.is_file()}
    changed = [
        str(p)
        for p in sorted(expected_files & actual_files)
        if not filecmp.cmp(expected / p, actual / p, shallow=False)
    ]
    missing = [f"{p} (not generated)" for p in sorted(expected_files - actual_files)]
    stale = [f"{p} (no longer generated)" for p in sorted(actual_files - expected_files)]
    return changed + missing + stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if gen/python is not current")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        if args.check:
            diff = differences(fresh, OUT_DIR)
            if diff:
                print("gen/python is out of date with proto/; run `make proto`:", file=sys.stderr)
                for line in diff:
                    print(f"  {line}", file=sys.stderr)
                return 1
            print("gen/python matches proto/")
            return 0
        shutil.rmtree(OUT_DIR, ignore_errors=True)
        shutil.copytree(fresh, OUT_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
