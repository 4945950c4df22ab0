"""Shared pytest configuration.

With ``NUMCONV_REQUIRE_TORCH=1`` (set by ``.ci/run``), the session fails if
torch cannot be imported or if any test was skipped for want of torch, so
the live PyTorch comparisons can never silently stop running. With
``NUMCONV_REQUIRE_BROWSER=1`` (also set by ``.ci/run``), a skipped test
marked ``browser`` (the report page in headless Chromium) fails the session
the same way.
"""

import collections
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("NUMCONV_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=os.environ.get("NUMCONV_HYPOTHESIS_DERANDOMIZE", "0") == "1",
)
settings.load_profile("default")

REQUIRE_TORCH = os.environ.get("NUMCONV_REQUIRE_TORCH", "") == "1"
REQUIRE_BROWSER = os.environ.get("NUMCONV_REQUIRE_BROWSER", "") == "1"
_torch_skips = []
_browser_skips = []
_fuzz_cases = collections.Counter()


def pytest_configure(config):
    if REQUIRE_TORCH:
        try:
            import torch  # noqa: F401
        except ImportError as error:  # pragma: no cover - only in a broken CI
            raise pytest.UsageError(f"NUMCONV_REQUIRE_TORCH=1 but torch cannot be imported: {error}")
    try:
        import torch
    except ImportError:
        return
    # The suite runs as two pytest workers on two cores. A torch thread pool
    # per worker on top of that makes the small parity cases slower, and
    # torch's idle OpenMP threads spin and starve NumPy (conv tests ran 10x
    # slower). The benchmarks set their own thread counts.
    torch.set_num_threads(1)


def pytest_runtest_logreport(report):
    if report.skipped and "torch" in str(report.longrepr).lower():
        _torch_skips.append(report.nodeid)
    if report.skipped and "browser" in report.keywords:
        _browser_skips.append(f"{report.nodeid} ({report.longrepr[-1] if isinstance(report.longrepr, tuple) else ''})")
    for key, outcomes in report.user_properties:  # test_fuzz.py records its cases (also under xdist)
        if key == "fuzz_cases":
            _fuzz_cases.update(outcomes)


def pytest_terminal_summary(terminalreporter):
    if _fuzz_cases:
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(_fuzz_cases.items()))
        terminalreporter.write_line(f"numconv fuzz: {sum(_fuzz_cases.values())} cases ran ({parts})")


def pytest_sessionfinish(session, exitstatus):
    if REQUIRE_TORCH and _torch_skips:
        print(f"\nNUMCONV_REQUIRE_TORCH=1: {len(_torch_skips)} torch tests were skipped, e.g. {_torch_skips[:3]}")
        session.exitstatus = 1
    if REQUIRE_BROWSER and _browser_skips:
        print(f"\nNUMCONV_REQUIRE_BROWSER=1: the browser tests were skipped: {_browser_skips}")
        session.exitstatus = 1


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
