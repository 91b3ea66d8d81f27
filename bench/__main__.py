"""`python -m bench [--sizes 1000,10000,100000] [--only first-row,filter]`: run the benchmarks and
print one table.

Each row is printed as soon as it is measured, and the whole table at the end. Every process a
benchmark starts (the stub server, consoles on a pty) is killed when the run ends, however it ends.
"""

from __future__ import annotations

import argparse
import compileall
import math
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from . import client_bench, console_bench, refresh_bench, runs_bench
from ._table import Row, render

BENCHMARKS = {
    "decode": "listing decode (client._task_list) vs json.loads of the same body, in process",
    "client": "client list_pending_tasks vs httpx+json.loads (in-process stub)",
    "first-row": "time to first inbox row from process start, vs fetch+json+bare Textual app",
    "memory": "console RSS after load",
    "idle-bytes": "terminal bytes per idle minute (at 10,000 if given, else the first size)",
    "cursor-bytes": "terminal bytes per cursor move",
    "filter": "filter keystroke → screen updated, median (vs a bare Textual Input) and p95",
    "marks": "mark all (*) → status line, and a → the batch's confirmation",
    "preview": "cursor key → cursor moved with the preview pane on, vs off",
    "refresh-cpu": "CPU per inbox refresh: unchanged data, 1% of tasks completed",
    "responsiveness": "cursor key → screen while every poll parses changed data",
    "runs": "runs feed read and poll, and a runs section's filter, vs as many tasks",
    "completions": "stub completions/s with 8 clients",
}


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not sizes or any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sizes


def _only(text: str) -> set[str]:
    names = {s.strip() for s in text.split(",") if s.strip()}
    unknown = names - set(BENCHMARKS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s) {', '.join(sorted(unknown))}; known: {', '.join(BENCHMARKS)}"
        )
    return names


def _on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds: context managers and the atexit hook kill the children


def _compile_bytecode() -> None:
    """Write the project's bytecode caches, as installing a wheel does.

    An editable install (or PYTHONDONTWRITEBYTECODE=1) would otherwise make every console start
    in the benchmark compile the project's modules again, which no installed copy does.
    """
    root = Path(__file__).resolve().parent.parent
    for package in ("client", "console", "server_stub"):
        compileall.compile_dir(root / package, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="benchmarks:\n"
        + "\n".join(f"  {name:<15} {what}" for name, what in BENCHMARKS.items()),
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[1000, 10000, 100000],
        help="inbox sizes, comma-separated (default: 1000,10000,100000)",
    )
    parser.add_argument(
        "--only",
        type=_only,
        default=set(BENCHMARKS),
        help="run only these benchmarks, comma-separated (default: all; names below)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="console and reference launches for first-row; the median counts (default: 3)",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=60.0,
        help="idle window for idle-bytes, scaled to a minute (default: 60)",
    )
    parser.add_argument(
        "--keystrokes", type=int, default=50, help="filter keystrokes per size (default: 50)"
    )
    parser.add_argument(
        "--responsive-seconds",
        type=float,
        default=15.0,
        help="how long to press j and g during refreshes, per size; longer (up to 45 s) until a "
        "refresh showed new tasks (default: 15)",
    )
    args = parser.parse_args()
    _compile_bytecode()
    signal.signal(signal.SIGTERM, _on_sigterm)
    sizes: list[int] = args.sizes
    wanted: set[str] = args.only
    options = console_bench.Options(
        repeat=args.repeat,
        keystrokes=args.keystrokes,
        idle_seconds=args.idle_seconds,
        responsive_seconds=args.responsive_seconds,
    )
    rows: list[Row] = []

    def emit(new: Iterable[Row]) -> None:
        for row in new:
            rows.append(row)
            print(render([row]), flush=True)

    try:
        _run(sizes, wanted, options, emit)
    except KeyboardInterrupt:
        print("\nInterrupted; every process the benchmarks started has been stopped.")
        if rows:
            print(render(rows))
        sys.exit(130)
    print()
    print(render(rows))
    missed = sum(1 for row in rows if row.verdict == "MISS" or math.isnan(row.value))
    if missed:
        print(f"\n{missed} of {len(rows)} rows missed their target or failed.")


def _run(
    sizes: list[int],
    wanted: set[str],
    options: console_bench.Options,
    emit: Callable[[Iterable[Row]], None],
) -> None:
    idle_size = 10_000 if 10_000 in sizes else sizes[0]
    for n in sizes:
        if "decode" in wanted:
            emit([client_bench.decode_overhead(n)])
        if "client" in wanted:
            emit([client_bench.list_overhead(n)])
        in_session = wanted & set(console_bench.SESSION_BENCHMARKS)
        if in_session or "refresh-cpu" in wanted:
            try:
                with console_bench.StubProcess(n) as stub:
                    assert stub.url is not None
                    emit(console_bench.session(stub, n, options, in_session, idle=n == idle_size))
                    if "refresh-cpu" in wanted:
                        try:
                            emit(refresh_bench.refresh_cpu(stub.url, n))
                        except Exception as exc:
                            console_bench.report_failure(f"refresh CPU at {n:,}", exc)
                            emit([console_bench.failed_row("refresh CPU", n, "ms", None, exc)])
            except Exception as exc:  # the stub did not start (the rest report their own)
                console_bench.report_failure(f"the stub with {n:,} tasks", exc)
                emit([console_bench.failed_row("stub server", n, "", None, exc)])
        if "refresh-cpu" in wanted:
            try:
                with console_bench.StubProcess(n, etags=False) as plain:
                    assert plain.url is not None
                    emit(refresh_bench.refresh_cpu(plain.url, n, etags=False))
            except Exception as exc:
                console_bench.report_failure(f"refresh CPU without ETags at {n:,}", exc)
                emit([console_bench.failed_row("refresh CPU, no ETags", n, "ms", None, exc)])
        if "responsiveness" in wanted:
            emit([console_bench.responsiveness(n, options)])
        if "runs" in wanted:
            try:
                emit(runs_bench.runs_at_scale(n))
            except Exception as exc:
                console_bench.report_failure(f"runs at {n:,}", exc)
                emit([console_bench.failed_row("runs feed read", n, "ms", None, exc)])
    if "completions" in wanted:
        emit([client_bench.completions_per_second()])


if __name__ == "__main__":
    main()
