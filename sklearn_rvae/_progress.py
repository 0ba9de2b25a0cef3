"""Progress of long work (simulations, streaming over files): a tqdm bar when ``verbose`` is on.

Training shows its progress through skorch (one line per epoch with the
losses, with ``verbose=1``); this is for the loops that skorch does not
run. The bar is tqdm's (``tqdm.auto``: a widget in a notebook, a text bar
on stderr elsewhere), the one users know from skorch and pip. Quiet by
default: every caller passes its ``verbose`` (0 or False in tests and
pipelines unless asked).
"""

from tqdm.auto import tqdm


class Progress:
    """A tqdm bar over ``total`` items, closed when they are all done.

    Parameters
    ----------
    label : str
        Who is working, e.g. ``"make_perovskite_abf"``.
    total : int
        Items in all.
    verbose : bool or int
        Show the bar only when true.
    unit : str, default=""
        The items' name, e.g. ``"images"``.
    min_interval : float, default=1.0
        Seconds between two redraws.
    stream : file-like or None, default=None
        Where the bar goes; ``None`` is tqdm's (stderr, or the notebook).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> progress = Progress("simulated", 4, verbose=True, unit="images", min_interval=0, stream=out)
    >>> for _ in range(4):
    ...     progress.advance()
    >>> "simulated: 100%" in out.getvalue() and "4/4" in out.getvalue()
    True
    """

    def __init__(self, label, total, verbose, *, unit="", min_interval=1.0, stream=None):
        self.bar = tqdm(total=int(total), desc=label, unit=f" {unit}" if unit else "it", disable=not verbose,
                        mininterval=float(min_interval), file=stream, dynamic_ncols=True)
        self.total = int(total)
        self.done = 0  # counted here: a disabled bar counts nothing

    def advance(self, n=1):
        """Count ``n`` more items done; the bar closes at the last."""
        self.done += int(n)
        self.bar.update(int(n))
        if self.done >= self.total:
            self.bar.close()
