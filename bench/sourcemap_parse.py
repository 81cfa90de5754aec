"""What parsing an uploaded source map costs: a real esbuild bundle of a generated app.

Run: .venv/bin/python bench/sourcemap_parse.py [--modules 3000] [--rounds 5] [--engine DIR]

Writes an app of N modules (each a few functions, some async, with comments and template
literals), bundles it with esbuild (installed as the tests install it), then times
LoadedSourceMap.parse on the map, best of the rounds, in CPU seconds, and the time to the first
function looked up in the map's sourcesContent (grouping's name for a frame its map's names do
not name).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULE = """// Module {n}: orders of region {n}.
import {{ helper{prev} }} from "./m{prev}.js";

export async function loadOrders{n}(client, id) {{
  const rows = await client.query(`select * from orders_{n} where id = ${{id}}`);
  return rows.map((row) => ({{ id: row.id, total: helper{prev}(row.total) }}));
}}

export function helper{n}(amount) {{
  if (amount < 0) {{
    throw new RangeError("negative amount in region {n}");
  }}
  return Math.round(amount * 100) / 100;
}}

export class Region{n} {{
  constructor(name) {{
    this.name = name;
  }}

  describe() {{
    return `${{this.name}} ({n})`;
  }}
}}
"""


def write_app(root: Path, modules: int) -> Path:
    (root / "m0.js").write_text("export function helper0(x) { return x; }\n")
    for n in range(1, modules):
        (root / f"m{n}.js").write_text(MODULE.format(n=n, prev=n - 1))
    entry = root / "main.js"
    entry.write_text("".join(f'export * from "./m{n}.js";\n' for n in range(1, modules)))
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--modules", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engine", type=Path, help="the checkout whose parser to measure")
    options = parser.parse_args()
    engine = (options.engine or Path(__file__).parents[1]).resolve()
    sys.path[:0] = [str(engine), str(engine / "gen" / "python")]
    from services.ingest.sourcemaps import LoadedSourceMap  # noqa: PLC0415 - the chosen engine
    from services.ingest.stacks import StackFrame  # noqa: PLC0415
    from tests.support.esbuild import installed_esbuild  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        entry = write_app(root, options.modules)
        out = root / "dist" / "app.js"
        subprocess.run(
            [
                str(installed_esbuild()),
                str(entry),
                "--bundle",
                "--sourcemap",
                "--minify",
                "--format=esm",
                f"--outfile={out}",
                "--log-level=warning",
            ],
            check=True,
            timeout=300,
        )
        data = (root / "dist" / "app.js.map").read_bytes()
        best = float("inf")
        for _ in range(options.rounds):
            started = time.process_time()
            loaded = LoadedSourceMap.parse(data)
            best = min(best, time.process_time() - started)
        print(f"map {len(data) / 1e6:.1f} MB, {options.modules} modules: parse {best:.3f} s CPU")
        bundle = out.read_text()
        column = bundle.index("negative amount in region 1500") + 1
        frame = StackFrame(str(out), 1, column, "x")
        started = time.process_time()
        location = loaded.lookup(frame)
        first = time.process_time() - started
        name = getattr(location, "grouping_name", None)
        print(f"first lookup {first * 1000:.1f} ms CPU, grouping name {name!r}")


if __name__ == "__main__":
    main()
