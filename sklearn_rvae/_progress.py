"""Progress of long work (simulations, streaming over files), printed when ``verbose`` is on.

Training shows its progress through skorch (one line per epoch with the
losses, with ``verbose=1``); this is for the loops that skorch does not
run. Quiet by default: every caller passes its ``verbose`` (0 or False in
tests and pipelines unless asked).
"""

import sys
import time


class Progress:
    """Lines of ``"label: done of total unit (percent), elapsed, about T left"``.

    At most one line per ``min_interval`` seconds, and always the last one.
    The time left assumes the remaining items take as long as the done ones.

    Parameters
    ----------
    label : str
        Who is working, e.g. ``"make_perovskite_abf"``.
    total : int
        Items in all.
    verbose : bool or int
        Print only when true.
    unit : str, default=""
        The items' name, e.g. ``"images simulated"``.
    min_interval : float, default=1.0
        Seconds between two lines (the first and last are always printed).
    stream : file-like or None, default=None
        Where the lines go; ``None`` is ``sys.stdout`` at the time of the
        call (so that pytest's capture sees it).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> progress = Progress("simulated", 4, verbose=True, unit="images", min_interval=0, stream=out)
    >>> for _ in range(4):
    ...     progress.advance()
    >>> out.getvalue().splitlines()[-1].startswith("simulated: 4 of 4 images (100%)")
    True
    """

    def __init__(self, label, total, verbose, *, unit="", min_interval=1.0, stream=None):
        self.label = label
        self.total = int(total)
        self.verbose = bool(verbose)
        self.unit = f" {unit}" if unit else ""
        self.min_interval = float(min_interval)
        self.stream = stream
        self.done = 0
        self._start = time.perf_counter()
        self._last = None

    def advance(self, n=1):
        """Count ``n`` more items done, and print a line if one is due."""
        self.done += int(n)
        if not self.verbose:
            return
        now = time.perf_counter()
        finished = self.done >= self.total
        if not finished and self._last is not None and now - self._last < self.min_interval:
            return
        self._last = now
        elapsed = now - self._start
        line = f"{self.label}: {self.done} of {self.total}{self.unit}"
        if self.total:
            line += f" ({100 * self.done / self.total:.0f}%)"
        line += f", {_duration(elapsed)}"
        if not finished and self.done:
            line += f", about {_duration(elapsed * (self.total - self.done) / self.done)} left"
        print(line, file=self.stream or sys.stdout, flush=True)


def _duration(seconds):
    """``"42 s"``, ``"3.5 min"`` or ``"1.2 h"``."""
    if seconds < 100:
        return f"{seconds:.0f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
