"""``python -m bench``: run the benchmarks, print a table and JSON, optionally write the JSON to a file.

    python -m bench                     # every benchmark, full repeats (a few minutes)
    python -m bench --quick             # fewer repeats and requests: a smoke run (about a minute)
    python -m bench --only cold_start,engine_throughput --json bench.json

Exit status: 0 when every benchmark ran (a missed target is reported, not an error), 1 when one could
not run (its error is in the table and the JSON).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from bench.report import Report, render_table

# benchmark name -> module; the order they run in (cheap and quiet first)
BENCHMARKS = {
    "engine_throughput": "bench.engine",
    "cold_start": "bench.cold_start",
    "ingest_overhead": "bench.ingest_overhead",
    "aws_calls": "bench.aws_calls",
    "local_stack": "bench.local_stack",
    "http_burst": "bench.http_burst",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and requests (smoke run)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--only", metavar="NAMES", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    names = [name.strip() for name in (args.only or ",".join(BENCHMARKS)).split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})")
    args.names = names
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    report = Report(mode="quick" if args.quick else "full")
    for name in args.names:
        print(f"running {name}...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            report.rows.extend(importlib.import_module(BENCHMARKS[name]).run(quick=args.quick))
        except Exception as error:  # one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            report.errors[name] = f"{type(error).__name__}: {error}"
        print(f"  {name} took {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    command = "python -m bench" + (" --quick" if args.quick else "") + (f" --only {args.only}" if args.only else "")
    print(f"\n{command}\n\n{render_table(report)}\n")
    document = report.to_json()
    print(document)
    if args.json:
        args.json.write_text(document + "\n", encoding="utf-8")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
