"""The benchmarks run: ``python -m bench --quick`` finishes and reports every benchmark as valid JSON.

A smoke test only: it proves the bench package works end to end (moto, handlers, subprocesses, the local
stack), never how fast anything is. Speed is read from ``make bench``, not asserted in tests.
"""

import json
import os
import subprocess
import sys

import pytest

from support.paths import ROOT

pytestmark = pytest.mark.slow


def test_quick_bench_reports_every_benchmark_with_a_baseline_as_json(tmp_path):
    from bench.__main__ import BENCHMARKS

    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out)], cwd=ROOT,
                         env={**os.environ, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"},
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["mode"] == "quick" and report["errors"] == {}
    assert {row["benchmark"] for row in report["results"]} == set(BENCHMARKS)
    for name in BENCHMARKS:  # each benchmark compares at least one number with a baseline from the same run
        assert any(row["ratio"] is not None for row in report["results"] if row["benchmark"] == name), name
    assert "| benchmark | case | value | baseline | ratio | target | met |" in run.stdout
    assert json.loads(run.stdout[run.stdout.index("\n{"):]) == report
