"""Fair conditions for timing: glibc's allocator state and OpenBLAS's kernel, set and reported.

Two process-wide settings moved numconv / PyTorch ratios more than any
kernel did (docs/performance.md, "Fair conditions"):

* **glibc's mmap threshold.** A fresh process serves every allocation of
  128 KiB or more with a new ``mmap``, so a call that allocates its output
  pays a page fault per 4 KiB of it, until the process frees a mapped block
  larger than the threshold; then glibc raises the threshold (up to 32 MiB)
  and those faults stop. A long training run reaches that raised state by
  itself, so the suite times in a child process started in it
  (``STEADY_ALLOCATOR``, both sides alike); ``allocator="default"`` starts
  the child with glibc's defaults, the cold state.
* **OpenBLAS's kernel.** ``OPENBLAS_CORETYPE`` makes OpenBLAS use the
  kernels of the named CPU; some machines export an older core than they
  have (``Haswell``, AVX2, on AVX-512 CPUs), which halves NumPy's matrix
  products while PyTorch's oneDNN is unaffected. The suite prints the
  kernel that runs, warns when the variable forces an older one than the
  CPU supports, and ``native_blas=True`` unsets it (with
  ``OPENBLAS_L2_SIZE``) for the timing child only.

Both are read when a process starts (glibc's at its first allocation,
OpenBLAS's when NumPy loads it), which is why the timing runs in a child.
"""

from __future__ import annotations

import os

__all__ = [
    "STEADY_ALLOCATOR", "ALLOCATORS", "BLAS_VARIABLES", "timing_environment", "cpu_flags", "cpu_isa",
    "kernel_isa", "blas_libraries", "coretype_warning", "describe", "summary_lines",
]

#: glibc settings of a process whose mmap threshold has risen to its maximum (32 MiB) and that does not
#: hand freed memory back to the system after every call: the state a long training run reaches.
STEADY_ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
ALLOCATORS = ("steady", "default")
#: OpenBLAS's kernel choice; ``native_blas`` unsets them.
BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# Instruction-set levels, lowest first.
_ISA_LEVELS = ("sse", "avx", "avx2", "avx512")
# OpenBLAS core names (lower case) -> the widest instructions their kernels use.
_KERNELS = {
    "sapphirerapids": "avx512", "cooperlake": "avx512", "skylakex": "avx512",
    "haswell": "avx2", "zen": "avx2", "excavator": "avx2", "skylake": "avx2",
    "sandybridge": "avx", "bulldozer": "avx", "piledriver": "avx", "steamroller": "avx",
    "nehalem": "sse", "core2": "sse", "penryn": "sse", "dunnington": "sse", "prescott": "sse", "atom": "sse",
    "barcelona": "sse", "opteron": "sse", "opteron_sse3": "sse", "bobcat": "sse", "katmai": "sse",
    "coppermine": "sse", "northwood": "sse", "banias": "sse", "athlon": "sse",
}


def timing_environment(base=None, allocator: str = "steady", native_blas: bool = False) -> dict:
    """The environment of the timing child process.

    Parameters
    ----------
    base : mapping, optional
        The environment to start from (default ``os.environ``).
    allocator : {'steady', 'default'}
        'steady' sets ``STEADY_ALLOCATOR``; 'default' removes those variables
        (glibc's own defaults, the cold state).
    native_blas : bool
        Remove ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``, so OpenBLAS picks
        the kernel of the CPU it runs on.

    Returns
    -------
    dict
    """
    if allocator not in ALLOCATORS:
        raise ValueError(f"allocator must be one of {', '.join(map(repr, ALLOCATORS))}, got {allocator!r}")
    env = dict(os.environ if base is None else base)
    for name in STEADY_ALLOCATOR:
        env.pop(name, None)
    if allocator == "steady":
        env.update(STEADY_ALLOCATOR)
    if native_blas:
        for name in BLAS_VARIABLES:
            env.pop(name, None)
    return env


def cpu_flags(path: str = "/proc/cpuinfo") -> set:
    """The CPU's feature flags (empty where ``/proc/cpuinfo`` is missing)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_isa(flags) -> str | None:
    """The widest instruction set of ``flags`` that OpenBLAS has kernels for (None: unknown)."""
    if not flags:
        return None
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "avx512"
    if {"avx2", "fma"} <= flags:
        return "avx2"
    if "avx" in flags:
        return "avx"
    return "sse"


def kernel_isa(architecture) -> str | None:
    """The instruction set an OpenBLAS kernel (threadpoolctl's ``architecture``) uses; None if unknown."""
    return _KERNELS.get(str(architecture or "").lower())


def blas_libraries() -> list:
    """The BLAS libraries loaded in this process, from threadpoolctl: name, version, kernel, threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return []
    import numpy  # noqa: F401  (loads NumPy's BLAS, so that it is listed)

    keys = ("internal_api", "prefix", "version", "architecture", "num_threads", "threading_layer")
    return [{k: info.get(k) for k in keys} for info in threadpool_info() if info.get("user_api") == "blas"]


def coretype_warning(env, libraries, flags) -> str | None:
    """A warning when ``OPENBLAS_CORETYPE`` makes OpenBLAS run an older kernel than the CPU supports.

    Parameters
    ----------
    env : mapping
        The timing process's environment.
    libraries : list of dict
        ``blas_libraries()`` of that process.
    flags : set
        ``cpu_flags()``.

    Returns
    -------
    str or None
    """
    forced = (env.get("OPENBLAS_CORETYPE") or "").strip()
    cpu = cpu_isa(flags)
    if not forced or cpu is None:
        return None
    for lib in libraries:
        kernel = kernel_isa(lib.get("architecture"))
        if lib.get("internal_api") == "openblas" and kernel and _ISA_LEVELS.index(kernel) < _ISA_LEVELS.index(cpu):
            return (f"OPENBLAS_CORETYPE={forced} makes OpenBLAS run its {lib['architecture']} kernels ({kernel}) on a "
                    f"CPU with {cpu}: NumPy's matrix products (numconv's) run slower than this CPU allows, while "
                    f"PyTorch's oneDNN is unaffected. A user's machine does not set it: rerun with --native-blas "
                    f"(or unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE) to time what it would do.")
    return None


def describe(torch=None) -> dict:
    """The conditions this process runs in: allocator variables, BLAS kernels, CPU, PyTorch's CPU capability."""
    env = os.environ
    libraries = blas_libraries()
    flags = cpu_flags()
    allocator = {name: env.get(name) for name in STEADY_ALLOCATOR}
    state = ("steady" if allocator == STEADY_ALLOCATOR
             else "default" if not any(allocator.values()) else "custom")
    capability = None
    if torch is not None:
        try:
            capability = torch.backends.cpu.get_cpu_capability()
        except AttributeError:  # pragma: no cover - older PyTorch
            capability = None
    return {"allocator": state, "allocator_variables": allocator,
            "blas_variables": {name: env.get(name) for name in BLAS_VARIABLES},
            "blas": libraries, "cpu_isa": cpu_isa(flags), "torch_cpu_capability": capability,
            "warning": coretype_warning(env, libraries, flags)}


def summary_lines(conditions: dict) -> list:
    """What ``describe`` found, as lines for the report (the warning last, if any)."""
    variables = conditions["allocator_variables"]
    shown = ", ".join(f"{k}={v}" for k, v in variables.items() if v) or "glibc defaults"
    state = {"steady": "steady state", "default": "default (cold) state",
             "custom": "custom settings"}[conditions["allocator"]]
    lines = [f"timing process: allocator in its {state} ({shown}), both sides"]
    forced = ", ".join(f"{k}={v}" for k, v in conditions["blas_variables"].items() if v) or "OPENBLAS_CORETYPE unset"
    for lib in conditions["blas"] or [{}]:
        if not lib:
            lines.append("BLAS: not identified (threadpoolctl found no BLAS library)")
            continue
        lines.append(f"BLAS: {lib['internal_api']} {lib['version']} ({lib['prefix']}), kernel {lib['architecture']}, "
                     f"{lib['num_threads']} threads; CPU: {conditions['cpu_isa'] or 'unknown'}; {forced}")
    if conditions.get("torch_cpu_capability"):
        lines[-1] += f"; PyTorch CPU capability {conditions['torch_cpu_capability']}"
    if conditions.get("warning"):
        lines.append("WARNING: " + conditions["warning"])
    return lines


# The timing process of a standalone script carries this variable, so it does not start another one.
_RERUN_MARK = "NUMCONV_BENCH_CONDITIONS_SET"


def add_arguments(parser) -> None:
    """``--allocator`` and ``--native-blas``, for the standalone timing scripts in ``benchmarks/``."""
    parser.add_argument("--allocator", choices=ALLOCATORS, default="steady",
                        help="glibc's state for the timing: 'steady' (default: mmap threshold raised, as in a long "
                             "training run) or 'default' (a cold process)")
    parser.add_argument("--native-blas", action="store_true",
                        help="time with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (OpenBLAS's kernel for this CPU)")


def rerun_in(allocator: str = "steady", native_blas: bool = False) -> None:
    """Restart this script in a process set up by ``timing_environment``; return at once inside that process.

    For the standalone scripts (``python benchmarks/conv_algorithms.py``):
    glibc and OpenBLAS read their settings at start-up, so the script
    replaces itself (``os.execve``, same arguments) with a process that has
    them, then prints ``summary_lines`` of its conditions.
    """
    import sys

    if os.environ.get(_RERUN_MARK) != "1":
        env = timing_environment(allocator=allocator, native_blas=native_blas)
        env[_RERUN_MARK] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
    for line in summary_lines(describe()):
        print(line, flush=True)
