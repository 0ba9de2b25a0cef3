"""Renamed parameters: the old name keeps working for one release, with a ``FutureWarning``.

scikit-learn's manner. A function or method takes
``@renamed_parameters(old="new")``: a call with ``old=`` warns and passes the
value on as ``new=``; both at once is a ``TypeError``. An estimator keeps the
old name in ``__init__`` with the default ``"deprecated"`` and reads it back
in ``fit`` with ``renamed_value``. Every rename is recorded in ``RENAMED``, so
that the conventions page and its test see them all.
"""

import functools
import warnings

# The release whose next one drops the old names.
RENAMED_IN, REMOVED_IN = "0.2", "0.3"
# "module.qualname" -> {old: new}, filled by the decorator and by ``register``.
RENAMED = {}


def register(owner, **renames):
    """Record the renames of ``owner`` (a class or function) in ``RENAMED``."""
    RENAMED.setdefault(f"{owner.__module__}.{owner.__qualname__}", {}).update(renames)


def _message(where, old, new, note=""):
    return (f"{where}: {old!r} was renamed {new!r} in {RENAMED_IN} and will be removed in {REMOVED_IN}; "
            f"pass {new}= instead.{note}")


def renamed_parameters(**renames):
    """Decorator: the keyword ``old`` of the function becomes ``new``, with a ``FutureWarning``.

    >>> import warnings
    >>> @renamed_parameters(scan_noise="scan_jitter")
    ... def jitter(*, scan_jitter=0.0):
    ...     return scan_jitter
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     jitter(scan_noise=0.2), caught[0].category.__name__
    (0.2, 'FutureWarning')
    """
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__qualname__}() got {old}= and {new}=: {old!r} is the old name "
                                        f"of {new!r}; pass {new}= alone.")
                    warnings.warn(_message(f"{func.__qualname__}()", old, new), FutureWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        register(func, **renames)
        return wrapper

    return decorate


def renamed_value(estimator, old, new, convert=None, note=""):
    """The value of the estimator's parameter ``new``, or of its old name ``old`` when that was set (warned).

    ``convert`` maps an old value into the new name's units (an angle in
    radians into degrees); ``note`` tells the user so in the warning.
    """
    value = getattr(estimator, old)
    if isinstance(value, str) and value == "deprecated":
        return getattr(estimator, new)
    warnings.warn(_message(type(estimator).__name__, old, new, note), FutureWarning, stacklevel=3)
    return value if convert is None else convert(value)
