"""The reliability sweep's harness: register cases, run one, classify what happened.

``add`` registers a case in ``CASES``; ``run_case`` runs it under a time
limit with warnings recorded and returns its CSV row; ``classify_error``
tells a clear error from a cryptic one; ``check_result`` and the other
checkers say what is wrong with a result; ``report`` prints the Markdown
summary. The outcomes are described in ``benchmarks/reliability_sweep.py``.
"""

import os
import re
import signal
import time
import warnings
from collections import Counter

import numpy as np

OUTCOMES = ["ok", "clear error", "cryptic error", "silent problem", "warned", "crash/hang", "harness error"]
CATEGORIES = [
    "non-finite", "dtypes", "shapes", "parameters", "files", "persistence", "determinism", "scale",
    "training failure", "calibration",
]
CLEAR_TYPES = (ValueError, TypeError, OSError)
SKLEARN_VALIDATION = ("sklearn/utils/_param_validation.py", "sklearn/utils/validation.py")


class CaseTimeout(BaseException):
    """Raised by the alarm: BaseException, so that no ``except Exception`` in the package swallows it."""


class Case:
    def __init__(self, category, target, desc, fn, expect, names, shape, kind, check):
        self.category, self.target, self.desc, self.fn = category, target, desc, fn
        self.expect, self.names, self.shape, self.kind, self.check = expect, tuple(names), shape, kind, check


CASES = []


def add(category, target, desc, fn, expect="error", names=("X",), shape=None, kind="f", check=None):
    """Register a case. ``names``: tokens one of which a clear error's message must contain."""
    assert category in CATEGORIES, category
    assert expect in ("error", "ok", "either"), expect
    CASES.append(Case(category, target, desc, fn, expect, names, shape, kind, check))


E, O, EI = "error", "ok", "either"  # short names for ``expect``


def _pkg():
    import sklearn_rvae

    return sklearn_rvae


# --------------------------------------------------------------------------- checks
def _arrays(result):
    """Every numeric array / scalar inside a result."""
    import pandas as pd

    if result is None or isinstance(result, (str, bool, np.bool_)):
        return
    if isinstance(result, pd.DataFrame):
        for col in result.columns:
            if pd.api.types.is_numeric_dtype(result[col]) and not pd.api.types.is_bool_dtype(result[col]):
                yield np.asarray(result[col], dtype=np.float64)
        return
    if isinstance(result, dict):
        for v in result.values():
            yield from _arrays(v)
        return
    if isinstance(result, (tuple, list)):
        for v in result:
            yield from _arrays(v)
        return
    if isinstance(result, (int, float, np.number)):
        yield np.asarray(result)
        return
    if isinstance(result, np.ndarray):
        yield result


def _primary(result):
    if isinstance(result, (tuple, list)) and result:
        return result[0]
    return result


def check_result(result, shape=None, kind="f"):
    """None when the result is finite (and of ``shape`` / dtype kind ``kind``); else what is wrong."""
    for arr in _arrays(result):
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.isfinite(arr).sum())
            return f"non-finite result ({bad} of {arr.size} values NaN/inf)"
        if arr.dtype == object:
            return f"result has dtype object (shape {arr.shape})"
    main = _primary(result)
    if shape is not None:
        got = getattr(main, "shape", None)
        if got is None or len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
            return f"result shape {got}, expected {shape}"
    if kind is not None and isinstance(main, np.ndarray) and main.dtype.kind not in kind:
        return f"result dtype {main.dtype}, expected kind {kind!r}"
    return None


def equal_pair(result):
    a, b = result
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"outputs differ in shape {a.shape} vs {b.shape}"
    if not np.array_equal(a, b, equal_nan=True):
        return f"outputs differ (max abs diff {np.nanmax(np.abs(a.astype(float) - b.astype(float))):.3g})"
    return check_result(a, kind=None)


def close_pair(rtol=1e-4, atol=1e-5):
    def check(result):
        a, b = (np.asarray(r, dtype=np.float64) for r in result)
        problem = check_result(a, kind=None) or check_result(b, kind=None)
        if problem:
            return problem
        if a.shape != b.shape:
            return f"outputs differ in shape {a.shape} vs {b.shape}"
        if not np.allclose(a, b, rtol=rtol, atol=atol):
            return f"scaled input changed the output (max abs diff {np.max(np.abs(a - b)):.3g})"
        return None

    return check


def rng_unchanged(result):
    moved = [name for name, flag in result.items() if flag]
    return f"global RNG moved: {', '.join(moved)}" if moved else None


def global_rng_probe(fn):
    """Run fn; report whether numpy's legacy global RNG and torch's RNG moved."""
    import torch

    np.random.seed(1234)
    before = np.random.get_state()
    torch_before = torch.get_rng_state().clone()
    fn()
    after = np.random.get_state()
    np_moved = not (np.array_equal(before[1], after[1]) and before[2] == after[2])
    return {"numpy.random": np_moved, "torch": not torch.equal(torch_before, torch.get_rng_state())}


# --------------------------------------------------------------------------- classification
def raising_frame(exc):
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


def _in_package(filename):
    f = filename.replace("\\", "/")
    pkg = os.path.dirname(os.path.abspath(_pkg().__file__)).replace("\\", "/") + "/"
    return f.startswith(pkg) or "/sklearn_rvae/" in f or any(f.endswith(s) for s in SKLEARN_VALIDATION)


TMPDIR = []  # the sweep's temporary directory: a message that quotes a file's path names the file


def _names(message, tokens):
    for tok in tokens:
        if tok == "<file>":
            if any(t in message for t in TMPDIR):
                return True
            continue
        if tok and re.search(r"(?<![A-Za-z0-9_])" + re.escape(str(tok)) + r"(?![A-Za-z0-9_])", message):
            return True
    return False


def _in_sklearn_validation(filename):
    f = filename.replace("\\", "/")
    return any(f.endswith(s) for s in SKLEARN_VALIDATION)


def classify_error(exc, names):
    """('clear error' | 'cryptic error', why).

    scikit-learn's validation (``validate_data`` / ``check_array`` /
    ``validate_params``) is taken to name the argument it checks, as the
    issue's definition does: its messages are about the one array or
    parameter it was given (``Expected 2D array``, ``Found array with 0
    sample(s) ... required by COMTransformer``).
    """
    frame = raising_frame(exc)
    message = str(exc)
    reasons = []
    if not isinstance(exc, CLEAR_TYPES):
        reasons.append(f"type {type(exc).__name__}")
    elif type(exc).__module__.split(".")[0] not in ("builtins", "sklearn_rvae", "sklearn"):
        # numpy's UFuncTypeError, AxisError ...: raised by C code called on a package line
        reasons.append(f"a {type(exc).__module__}.{type(exc).__name__}")
    if not _in_package(frame):
        reasons.append(f"raised in {_short(frame)}")
    if not _names(message, names) and not _in_sklearn_validation(frame):
        reasons.append(f"message names none of {list(names)}")
    return ("cryptic error" if reasons else "clear error"), "; ".join(reasons)


def _short(path):
    p = path.replace("\\", "/")
    for marker in ("site-packages/", "/sklearn_rvae/", "lib/python"):
        if marker in p:
            return p.split(marker, 1)[1] if marker != "/sklearn_rvae/" else "sklearn_rvae/" + p.split(marker, 1)[1]
    return p


def _package_warnings(caught):
    out = []
    for w in caught:
        f = (w.filename or "").replace("\\", "/")
        if issubclass(w.category, RuntimeWarning):  # numpy's overflow / invalid-value noise: not a message
            continue
        if "/sklearn_rvae/" in f or issubclass(w.category, _package_warning_types()):
            out.append(f"{w.category.__name__}: {str(w.message).splitlines()[0][:150]}")
    return out


def _package_warning_types():
    try:
        return (_pkg().EmptyFrameWarning,)
    except Exception:  # pragma: no cover
        return ()


def run_case(case, timeout):
    def _alarm(signum, frame):
        raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, _alarm)
    start = time.perf_counter()
    exc, result = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signal.alarm(timeout)
        try:
            result = case.fn()
        except CaseTimeout:
            exc = "timeout"
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: BLE001 - SystemExit from a library counts too
            exc = e
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
    seconds = time.perf_counter() - start
    pkg_warn = _package_warnings(caught)
    row = {
        "category": case.category, "target": case.target, "case": case.desc, "expected": case.expect,
        "outcome": "", "exc_type": "", "message": "", "frame": "", "detail": "",
        "warning": pkg_warn[0] if pkg_warn else "", "seconds": f"{seconds:.2f}",
    }
    if exc == "timeout":
        row.update(outcome="crash/hang", detail=f"ran past {timeout} s")
        return row
    if exc is not None:
        outcome, why = classify_error(exc, case.names)
        row.update(outcome=outcome, exc_type=type(exc).__name__, message=(str(exc).splitlines() or [""])[0][:240],
                   frame=_short(raising_frame(exc)), detail=why)
        if case.expect == "ok":
            row["detail"] = ("valid input rejected; " + why).rstrip("; ")
        return row
    try:
        if case.check is not None:
            problem = case.check(result)
        else:
            problem = check_result(result, case.shape, case.kind)
    except Exception as e:  # the harness's own failure, shown as such
        row.update(outcome="harness error", detail=f"check failed: {type(e).__name__}: {e}"[:240])
        return row
    if problem is None and case.expect == "error":
        problem = "bad input accepted: returned " + _describe(result)
    if problem is None:
        row["outcome"] = "ok"
    else:
        row.update(outcome="warned" if pkg_warn else "silent problem", detail=problem[:240])
    return row


def _describe(result):
    main = _primary(result)
    if isinstance(main, np.ndarray):
        return f"array {main.shape} {main.dtype}"
    return type(main).__name__ if not isinstance(main, (int, float)) else repr(main)



def rng_unchanged_like(result):
    bad = [k for k, v in result.items() if v]
    return "; ".join(bad) if bad else None


def report(rows, seconds):
    cats = [c for c in CATEGORIES if any(r["category"] == c for r in rows)]
    outcomes = [o for o in OUTCOMES if any(r["outcome"] == o for r in rows) or o in OUTCOMES[:6]]
    counts = Counter((r["category"], r["outcome"]) for r in rows)
    lines = [f"Reliability sweep: {len(rows)} cases in {seconds:.0f} s "
             f"(sklearn_rvae {getattr(_pkg(), '__version__', '?')})", ""]
    lines.append("| category | cases | " + " | ".join(outcomes) + " |")
    lines.append("|---|---:|" + "---:|" * len(outcomes))
    for c in cats:
        n = sum(counts[(c, o)] for o in OUTCOMES)
        lines.append(f"| {c} | {n} | " + " | ".join(str(counts[(c, o)]) for o in outcomes) + " |")
    lines.append(f"| **all** | {len(rows)} | " + " | ".join(
        str(sum(counts[(c, o)] for c in cats)) for o in outcomes) + " |")
    bad = [r for r in rows if r["outcome"] not in ("ok", "clear error")]
    if bad:
        lines += ["", "Cases that are neither ok nor a clear error:", "",
                  "| category | target | case | outcome | exception | message / detail |", "|---|---|---|---|---|---|"]
        for r in bad:
            msg = (r["message"] + (" -- " if r["message"] and r["detail"] else "") + r["detail"]).replace("|", "\\|")
            if r["warning"]:
                msg += f" (warning: {r['warning']})".replace("|", "\\|")
            lines.append(f"| {r['category']} | {r['target']} | {r['case']} | {r['outcome']} | {r['exc_type']} | "
                         f"{msg[:300]} |")
    rejected = [r for r in rows if r["expected"] == "ok" and r["outcome"] == "clear error"]
    if rejected:
        lines += ["", "Valid inputs rejected with a clear error:", ""]
        for r in rejected:
            lines.append(f"- {r['target']}: {r['case']} -- {r['exc_type']}: {r['message'][:200]}")
    return "\n".join(lines)
