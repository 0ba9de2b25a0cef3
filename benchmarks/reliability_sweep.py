"""Reliability sweep: bad and edge inputs over every public estimator and function (issue 23).

Tries some 400 inputs a new user might pass -- non-finite values, every
dtype, wrong shapes, parameters at and beyond their bounds, broken files,
persistence, determinism, scale, a training that diverges -- and classifies
what the package does with each, automatically:

``ok``
    A finite result of the expected shape and dtype where one is right
    (an edge input that is valid, such as float16 or integer counts), or
    where either a result or an error would be right.
``clear error``
    A ValueError / TypeError / OSError (FileNotFoundError ...) whose raising
    frame -- the innermost frame of the exception the user sees -- is in
    ``sklearn_rvae/`` or in scikit-learn's validation
    (``sklearn/utils/_param_validation.py``, ``sklearn/utils/validation.py``),
    and whose message names the parameter, argument or file.
``cryptic error``
    Anything else raised: another exception type, a frame inside numpy /
    torch / h5py / zarr / scipy, or a message that names nothing.
``silent problem``
    A result for bad input with no error and no warning, a result with NaN
    or inf or of the wrong shape / dtype, or a broken contract (pickle
    output differs, the global RNG moved, same seed gives another result).
``warned``
    A result for bad input (or a non-finite one) that came with a warning
    from the package: not silent, not an error.
``crash/hang``
    The case ran past its time limit (``signal.alarm``; default 60 s).

Every case records category, target, description, expected outcome
(``error``: the input is bad; ``ok``: the input is valid and a result is
right; ``either``: a result or a clear error are both acceptable), the
outcome, the exception type, the first line of its message and the file
of the raising frame.

Run::

    OMP_NUM_THREADS=2 python benchmarks/reliability_sweep.py --out /tmp/sweep.csv
    python benchmarks/reliability_sweep.py --category files,dtypes
    python benchmarks/reliability_sweep.py --list

Every fit is tiny (8x8 images, a few dozen samples, one or two epochs): the
whole sweep takes a few minutes on 2 cores. It prints a Markdown table of
category x outcome and every case that is neither ``ok`` nor ``clear
error`` (plus valid inputs that were rejected).

Layout: this file is the entry point (command line, memory cap, the run
loop). ``benchmarks/reliability/harness.py`` registers, runs and
classifies the cases and prints the report;
``benchmarks/reliability/fixtures.py`` makes the tiny data and estimators;
``benchmarks/reliability/cases_<category>.py`` adds one category's cases
in its ``build()``. ``build_cases()`` below calls them in the order of
``CASE_MODULES``, which is the order of the cases.
"""

import argparse
import csv
import os
import shutil
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

# benchmarks/reliability/, found as benchmarks/_peers.py is: this script's folder is on sys.path
from reliability import cases_calibration, cases_determinism, cases_dtypes, cases_files  # noqa: E402
from reliability import cases_nonfinite, cases_parameters, cases_persistence, cases_scale  # noqa: E402
from reliability import cases_shapes, cases_training  # noqa: E402
from reliability.harness import CASES, CATEGORIES, report, run_case  # noqa: E402

CASE_MODULES = [
    cases_nonfinite, cases_dtypes, cases_shapes, cases_parameters, cases_files, cases_persistence,
    cases_determinism, cases_scale, cases_calibration, cases_training,
]


def build_cases():
    """Add every case to CASES, category by category; return the temporary directory of the files cases."""
    tmp = None
    for module in CASE_MODULES:
        tmp = module.build() or tmp  # only cases_files returns something: its temporary directory
    return tmp


# --------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="write every case to this CSV file")
    parser.add_argument("--category", default=None,
                        help="comma-separated categories to run (default: all): " + ", ".join(CATEGORIES))
    parser.add_argument("--target", default=None, help="only targets containing this substring")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per case before it counts as a hang")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--quiet", action="store_true", help="no per-case progress on stderr")
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="address space allowed on top of the start-up size (Linux), so that a case that asks "
                             "for tens of GB gets a MemoryError instead of the machine's OOM killer; 0: no cap")
    args = parser.parse_args(argv)

    import torch

    if args.memory_gb > 0:
        _cap_memory(args.memory_gb)

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    tmp = build_cases()
    cases = CASES
    if args.category:
        wanted = {c.strip() for c in args.category.split(",")}
        unknown = wanted - set(CATEGORIES)
        if unknown:
            parser.error(f"unknown categories {sorted(unknown)}; choose from {CATEGORIES}")
        cases = [c for c in cases if c.category in wanted]
    if args.target:
        cases = [c for c in cases if args.target in c.target]
    if args.list:
        for c in cases:
            print(f"{c.category:16s} {c.target:45s} [{c.expect}] {c.desc}")
        print(f"{len(cases)} cases")
        return 0

    rows = []
    fh = open(args.out, "w", newline="") if args.out else None
    fields = ["category", "target", "case", "expected", "outcome", "exc_type", "message", "frame", "detail",
              "warning", "seconds"]
    writer = csv.DictWriter(fh, fieldnames=fields) if fh else None
    if writer:
        writer.writeheader()
    t0 = time.perf_counter()
    try:
        for i, case in enumerate(cases, 1):
            row = run_case(case, args.timeout)
            rows.append(row)
            if writer:
                writer.writerow(row)
                fh.flush()
            if not args.quiet:
                print(f"[{i}/{len(cases)}] {row['outcome']:14s} {case.category:16s} {case.target}: {case.desc}"
                      + (f"  <- {row['exc_type']}: {row['message'][:100]}" if row["exc_type"] else "")
                      + (f"  [{row['detail'][:100]}]" if row["detail"] and row["outcome"] != "clear error" else ""),
                      file=sys.stderr, flush=True)
    finally:
        if fh:
            fh.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(report(rows, time.perf_counter() - t0))
    return 0


def _cap_memory(gb):
    try:
        import resource

        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = vm + int(gb * 2**30)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, StopIteration, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
