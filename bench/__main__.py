"""`python -m bench [--sizes 1000,10000]`: run the benchmarks and print one table."""

from __future__ import annotations

import argparse

from . import client_bench
from ._table import Row, render


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--sizes",
        default="1000,10000",
        help="inbox sizes, comma-separated (default: 1000,10000)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows: list[Row] = []
    for n in sizes:
        rows.append(client_bench.list_overhead(n))
        print(render(rows[-1:]), flush=True)
    rows.append(client_bench.completions_per_second())
    print()
    print(render(rows))


if __name__ == "__main__":
    main()
