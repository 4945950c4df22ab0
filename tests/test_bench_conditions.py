"""Fair timing conditions: the timing child's environment, the BLAS report and its warning (no timings)."""

import io

import pytest

from numconv import cli
from numconv.bench import conditions, suite

AVX512 = {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"}
AVX2 = {"sse4_2", "avx", "avx2", "fma"}


def test_steady_allocator_sets_both_variables_and_default_removes_them():
    base = {"PATH": "/bin", "MALLOC_MMAP_THRESHOLD_": "65536", "OPENBLAS_CORETYPE": "Haswell"}
    steady = conditions.timing_environment(base, "steady")
    assert steady["MALLOC_MMAP_THRESHOLD_"] == "33554432" and steady["MALLOC_TRIM_THRESHOLD_"] == "1073741824"
    assert steady["OPENBLAS_CORETYPE"] == "Haswell" and steady["PATH"] == "/bin"
    cold = conditions.timing_environment(base, "default")
    assert "MALLOC_MMAP_THRESHOLD_" not in cold and "MALLOC_TRIM_THRESHOLD_" not in cold
    assert base["MALLOC_MMAP_THRESHOLD_"] == "65536"  # the caller's mapping is left alone


def test_native_blas_unsets_the_kernel_variables_only():
    base = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1048576", "OPENBLAS_NUM_THREADS": "2"}
    env = conditions.timing_environment(base, "steady", native_blas=True)
    assert "OPENBLAS_CORETYPE" not in env and "OPENBLAS_L2_SIZE" not in env
    assert env["OPENBLAS_NUM_THREADS"] == "2"
    with pytest.raises(ValueError, match="'steady', 'default'"):
        conditions.timing_environment(base, "warm")


@pytest.mark.parametrize("flags, expected", [(AVX512, "avx512"), (AVX2, "avx2"), ({"avx", "sse2"}, "avx"),
                                             ({"sse2"}, "sse"), (set(), None)])
def test_cpu_isa_from_flags(flags, expected):
    assert conditions.cpu_isa(flags) == expected


def test_warning_only_when_the_variable_forces_an_older_kernel():
    haswell = [{"internal_api": "openblas", "architecture": "Haswell"}]
    skylake_x = [{"internal_api": "openblas", "architecture": "SkylakeX"}]
    text = conditions.coretype_warning({"OPENBLAS_CORETYPE": "Haswell"}, haswell, AVX512)
    assert "OPENBLAS_CORETYPE=Haswell" in text and "--native-blas" in text and "avx512" in text
    assert conditions.coretype_warning({}, haswell, AVX512) is None  # chosen by OpenBLAS itself: not forced
    assert conditions.coretype_warning({"OPENBLAS_CORETYPE": "Haswell"}, haswell, AVX2) is None  # what the CPU has
    assert conditions.coretype_warning({"OPENBLAS_CORETYPE": "SkylakeX"}, skylake_x, AVX512) is None
    assert conditions.coretype_warning({"OPENBLAS_CORETYPE": "Odd"}, [{"internal_api": "openblas",
                                                                       "architecture": "Odd"}], AVX512) is None
    mkl = [{"internal_api": "mkl", "architecture": "Haswell"}]
    assert conditions.coretype_warning({"OPENBLAS_CORETYPE": "Haswell"}, mkl, AVX512) is None


def test_summary_lines_name_the_allocator_kernel_and_warning():
    described = {"allocator": "steady", "allocator_variables": dict(conditions.STEADY_ALLOCATOR),
                 "blas_variables": {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": None},
                 "blas": [{"internal_api": "openblas", "version": "0.3", "prefix": "libopenblas",
                           "architecture": "Haswell", "num_threads": 2}],
                 "cpu_isa": "avx512", "torch_cpu_capability": "AVX512", "warning": "forced"}
    lines = conditions.summary_lines(described)
    assert "steady state" in lines[0] and "MALLOC_MMAP_THRESHOLD_=33554432" in lines[0]
    assert "kernel Haswell" in lines[1] and "OPENBLAS_CORETYPE=Haswell" in lines[1] and "AVX512" in lines[1]
    assert lines[-1] == "WARNING: forced"


def _timed_conditions(monkeypatch, **options):
    """Run the suite's timing child on W7 alone and return what it reported about its conditions."""
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    out = io.StringIO()
    results = suite.run_suite(quick=True, only=["W7"], use_torch=False, measure_memory=False,
                              measure_startup=False, out=out, **options)
    return results["conditions"], out.getvalue()


def test_the_timing_child_runs_in_the_steady_state_with_the_inherited_kernel(monkeypatch):
    found, text = _timed_conditions(monkeypatch)
    assert found["allocator"] == "steady" and found["allocator_variables"] == conditions.STEADY_ALLOCATOR
    assert found["blas_variables"]["OPENBLAS_CORETYPE"] == "Haswell"
    assert "allocator in its steady state" in text and "BLAS: " in text
    openblas = [lib for lib in found["blas"] if lib["internal_api"] == "openblas"]
    if openblas:  # NumPy's wheels: OpenBLAS honours the variable, and the report says so
        assert openblas[0]["architecture"] == "Haswell" and "kernel Haswell" in text
        if conditions.cpu_isa(conditions.cpu_flags()) == "avx512":
            assert found["warning"] and "WARNING: OPENBLAS_CORETYPE=Haswell" in text


def test_allocator_default_and_native_blas_reach_the_timing_child(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "4096")
    found, text = _timed_conditions(monkeypatch, allocator="default", native_blas=True)
    assert found["allocator"] == "default" and not any(found["allocator_variables"].values())
    assert found["blas_variables"] == {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None}
    assert found["warning"] is None and "WARNING" not in text
    assert "default (cold) state" in text


def test_one_thread_per_side_reaches_the_timing_child(monkeypatch):
    out = io.StringIO()
    results = suite.run_suite(quick=True, only=["W7"], use_torch=False, measure_memory=False, measure_startup=False,
                              out=out, threads=1)
    assert results["threads"] == 1 and "--threads 1" in out.getvalue()
    assert all(lib["num_threads"] == 1 for lib in results["conditions"]["blas"]) or not results["conditions"]["blas"]


def test_cli_takes_the_condition_options(capsys):
    with pytest.raises(SystemExit) as exit_status:
        cli.main(["bench", "--allocator", "warm"])
    assert exit_status.value.code == 2 and "--allocator" in capsys.readouterr().err
