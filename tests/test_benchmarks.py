"""The benchmark suite runs end to end and reports every workload (a smoke test: no timing assertions)."""

import io
import json
import math

import numpy as np
import pytest

from numconv import cli
from numconv.bench import suite
from numconv.bench.timing import Timing, calls_per_block, time_sides
from numconv.bench.workloads import WORKLOADS, build_cases


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One ``--quick`` run with PyTorch, its printed report and its JSON file."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    path = tmp_path_factory.mktemp("bench") / "quick.json"
    out = io.StringIO()
    try:
        results = suite.run_suite(quick=True, json_path=str(path), out=out)
    finally:
        torch.set_num_threads(threads)  # the suite uses 2 threads; the test session uses its own setting
    return results, out.getvalue(), json.loads(path.read_text())


def test_quick_run_reports_every_workload_with_finite_ratios(quick_run):
    results, text, _ = quick_run
    assert not results["torch_missing"]
    assert {row["workload"] for row in results["cases"]} == set(WORKLOADS)
    for workload in WORKLOADS:
        assert any(line.startswith(workload + " ") for line in text.splitlines()), f"{workload} missing from table"
    for row in results["cases"]:
        assert math.isfinite(row["ratio"]) and row["ratio"] > 0, row
        assert math.isfinite(row["ratio_of_minima"]) and row["ratio_of_minima"] > 0, row
        for side in ("numconv", "torch"):
            t = row[side]
            assert 0 < t["min_s"] <= t["median_s"] <= t["max_s"] and t["calls"] >= 2, row
        if row["target"] is not None:
            assert row["met"] == (row["ratio"] <= row["target"])
    convs = [row for row in results["cases"] if row["workload"] in ("W1", "W2", "W3", "W4", "W5")]
    assert convs and all(set(row["gflops"]) == {"numconv", "torch"} for row in convs)
    assert math.isfinite(results["gemm_peak_gflops"]) and results["gemm_peak_gflops"] > 0


def test_quick_run_reports_memory_and_startup(quick_run):
    results, text, _ = quick_run
    memory = results["memory"]
    if memory is not None:  # Linux
        rows = [r for r in memory if "errors" not in r]
        assert rows and not any("errors" in r for r in memory), memory
        for row in rows:
            assert row["numconv_rss_bytes"] >= 0 and row["torch_rss_bytes"] >= 0
            assert row["numconv_traced_bytes"] > 0  # the call allocates its output and gradients at least
        assert "peak memory" in text
        bounded = results["bounded_memory"]
        assert len(bounded) == 1 and not any("errors" in r for r in bounded), bounded
        assert bounded[0]["rss_bytes"] > 0 and bounded[0]["met"] == (bounded[0]["ratio"] <= bounded[0]["target"])
        assert "bounded memory" in text
    startup = results["startup"]
    for key in ("import", "first_call"):
        assert 0 < startup[key]["min_s"] <= startup[key]["median_s"] <= startup[key]["max_s"]
        assert startup[key]["met"] == (startup[key]["median_s"] <= startup[key]["target_s"])
    assert "import numconv" in text and "first numba kernel call" in text
    assert f"targets met: {results['targets_met']} of {results['targets_total']}" in text


def test_json_file_holds_what_run_suite_returned(quick_run):
    results, _, stored = quick_run
    assert [row["workload"] for row in stored["cases"]] == [row["workload"] for row in results["cases"]]
    assert stored["machine"]["logical_cpus"] == results["machine"]["logical_cpus"]


def test_without_torch_it_times_numconv_alone():
    out = io.StringIO()
    results = suite.run_suite(quick=True, only=["W6", "W7"], use_torch=False, measure_memory=False,
                              measure_startup=False, out=out)
    assert results["torch_missing"]
    assert {row["workload"] for row in results["cases"]} == {"W6", "W7"}
    for row in results["cases"]:
        assert row["torch"] is None and row["ratio"] is None and row["met"] is None
        assert row["numconv"]["median_s"] > 0
    assert "PyTorch is not installed" in out.getvalue()


def test_every_case_builds_the_same_work_on_both_sides():
    """Each workload has a forward (or step) case, and conv/pool/norm cases come as fwd and fwd+bwd pairs."""
    cases = build_cases()
    assert {c.workload for c in cases} == set(WORKLOADS)
    assert len({c.key for c in cases}) == len(cases)
    for workload in ("W1", "W2", "W3", "W4", "W5", "W7"):
        assert {c.phase for c in cases if c.workload == workload} == {"fwd", "fwd+bwd"}
    assert [c.phase for c in cases if c.workload == "W8"] == ["step", "step"]
    assert [(c.phase, c.target) for c in cases if c.workload == "W10"] == [("step", 1.0)]
    assert all(c.memory_target == 1.0 for c in cases if c.workload in ("W1", "W2", "W3", "W4", "W5")
               and c.phase == "fwd+bwd")
    # W9: W3-W5 again, in float64, forward + backward only
    float64 = [c for c in cases if c.workload == "W9"]
    assert [c.phase for c in float64] == ["fwd+bwd"] * 3 and all(c.target == 0.5 for c in float64)
    assert [c.label for c in float64] == ["float64 " + c.label for c in cases
                                         if c.workload in ("W3", "W4", "W5") and c.phase == "fwd+bwd"]


def test_w9_computes_in_float64_on_both_sides():
    torch = pytest.importorskip("torch")
    case = next(c for c in build_cases(["W9"]) if "16->32" in c.label)
    ours = case.numconv(0)()
    theirs = case.torch(torch, 0)()
    assert all(g.dtype == np.float64 for g in ours if g is not None)
    assert all(g.dtype == torch.float64 for g in theirs)


@pytest.mark.parametrize("text, expected", [("W3,W6", ["W3", "W6"]), (" w1 , W8 ", ["W1", "W8"]), (None, None)])
def test_only_accepts_workload_names(text, expected):
    assert suite.parse_only(text) == expected


@pytest.mark.parametrize("text", ["W99", "W3,conv", ","])
def test_only_refuses_unknown_names(text):
    with pytest.raises(ValueError, match="W1"):
        suite.parse_only(text)


def test_cli_reports_bad_options_in_one_line(capsys):
    assert cli.main(["bench", "--only", "W99"]) == 2
    assert "unknown workload" in capsys.readouterr().err
    assert cli.main(["bench", "--repeat", "0"]) == 2
    assert "--repeat must be at least 1" in capsys.readouterr().err
    assert cli.main(["bench", "--json", "/nonexistent-folder/bench.json"]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_timing_alternates_sides_and_counts_calls():
    order = []
    calls = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    timings = time_sides(calls, rounds=2, block_seconds=1e-9, pause=0.0, min_calls=2)
    assert set(timings) == {"a", "b"} and all(isinstance(t, Timing) and t.calls == 4 for t in timings.values())
    # two sizing calls per side, then round 1 a-block (warm-up + 2), b-block, round 2 b-block first
    assert order[:4] == ["a", "a", "b", "b"]
    assert order[4:7] == ["a"] * 3 and order[7:10] == ["b"] * 3 and order[10:13] == ["b"] * 3
    assert calls_per_block(0.01, 0.25) == 25 and calls_per_block(1.0, 0.25, minimum=3) == 3
    # the --quick settings: one sizing call per side (no block length to aim for), no warm-up per block
    order.clear()
    time_sides(calls, rounds=2, block_seconds=0.0, pause=0.0, min_calls=1, warmup=False)
    assert order == ["a", "b", "a", "b", "b", "a"]


def test_memory_flat_records_every_epoch():
    from numconv.bench.memory_flat import run

    out = io.StringIO()
    result = run(epochs=2, limit=64, batch_size=32, out=out)
    assert [row["epoch"] for row in result["rows"]] == [1, 2]
    assert all(row["traced_bytes"] > 0 and row["traced_peak_bytes"] >= row["traced_bytes"] for row in result["rows"])
    assert isinstance(result["flat"], bool)
    assert "from epoch 2 to epoch 2" in out.getvalue()


def test_profile_step_groups_the_time_by_kind(capsys):
    # The script behind docs/performance.md's step profiles: it runs, names every kind, and its
    # shares add up to the whole (the rest included).
    import importlib.util
    import os
    import re

    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "profile_step.py")
    spec = importlib.util.spec_from_file_location("profile_step", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--model", "resnet8", "--batch", "4", "--steps", "2", "--rounds", "1"])
    printed = capsys.readouterr().out
    shares = [float(s) for s in re.findall(r"^  .+?\s+(-?[\d.]+) %$", printed, flags=re.M)]
    assert len(shares) == len(module.KINDS) + 1 and abs(sum(shares) - 100) < 0.5
    assert "conv backward, row slab" in printed and "ratio" in printed
