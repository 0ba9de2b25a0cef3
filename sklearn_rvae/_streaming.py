"""Learning from frames that do not fit in memory.

A streamed source (an HDF5 or zarr dataset, a ``numpy.memmap``, a dask
array: a ``FrameSource`` with ``streamed``) is never converted whole. The
statistics a fit needs come from one pass over its chunks (``Moments``,
``evenly_spaced``). Training reads it as a torch ``Dataset`` that skorch
accepts as it is (``StreamedFrames``): every epoch visits the chunks in a
new random order, holds a block of a few of them in memory and shuffles
within it, while a background thread reads the next block
(``BlockShuffleLoader``). Memory is then set by the chunk and block sizes,
never by the data. Inference maps the fitted model over the chunks: a dask
array in, a dask array out (``map_frames``), written chunk by chunk where the
user asks (``store``).
"""

import math
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.utils.data import Dataset

from ._frames import _kind
from ._malloc import release_freed_memory
from ._progress import Progress
from ._training import BatchIndexLoader
from ._utils import one_torch_thread_off_main, scattered

# Training frames (float32, after conversion) held in one shuffled block; the
# next block is read while the network trains on this one, so about twice
# this is held at once. 128 MiB is 8,192 patterns of 64 x 64.
BLOCK_BYTES = 128 * 2**20
# Pixels kept for a median (edge level, reference intensity): those of up to
# this many values' worth of evenly spaced frames (32 MiB as float64); all
# frames of any data set smaller than that (16,384 images of 64 x 64 for the
# edge level), so in-memory and streamed fits agree there.
MEDIAN_SAMPLE_VALUES = 2**22


class Moments:
    """Count, mean and sum of squared deviations, merged chunk by chunk (Chan et al.).

    ``axis=None`` pools every value; ``axis=0`` keeps one per pixel (column).
    The merge is exact up to rounding, and stable where the mean is large
    against the spread (unlike a running sum of squares).
    """

    def __init__(self, axis=None):
        self.axis = axis
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, values):
        n = values.size if self.axis is None else values.shape[0]
        if n == 0:
            return
        if self.axis is None:
            deviation = np.array(values, dtype=np.float64).ravel()  # our own copy, changed in place
            mean = deviation.mean()
            deviation -= mean
            m2 = deviation @ deviation  # one pass, BLAS
        else:
            values = np.asarray(values, dtype=np.float64)
            mean = values.mean(axis=0)
            m2 = np.square(values - mean).sum(axis=0)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + np.square(delta) * (self.count * n / total)
        self.count = total

    @property
    def variance(self):
        return self.m2 / self.count if self.count else np.nan


def evenly_spaced(n, values_per_frame, max_values=None):
    """Sorted positions of up to ``max_values / values_per_frame`` frames spread evenly over ``n``."""
    max_values = MEDIAN_SAMPLE_VALUES if max_values is None else max_values
    cap = max(1, max_values // max(1, values_per_frame))
    if n <= cap:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, cap).round().astype(np.int64))


def picked(sample, start, stop):
    """Offsets within the chunk ``start .. stop - 1`` of the sorted positions ``sample``."""
    lo, hi = np.searchsorted(sample, [start, stop])
    return sample[lo:hi] - start


def non_finite_error(name, bad_positions, n_bad, what, span=None):
    """The ValueError for frames holding NaN or infinity, naming the first positions.

    ``span`` (start, stop): the count is of that chunk of frames, not of all X.
    """
    within = "" if span is None else f" of frames {span[0]}-{span[1] - 1}"
    return ValueError(
        f"{name} contains NaN or infinity in {n_bad} frame(s){within}, first at positions "
        f"{np.asarray(bad_positions[:10]).tolist()}; {what}"
    )


def chunks_with_progress(source, step, label, verbose, unit="frames"):
    """``source.chunks(step)`` with a tqdm progress bar when ``verbose``."""
    progress = Progress(label, source.n_frames, verbose, unit=unit)
    for start, stop in source.spans(step):
        yield start, source.read(start, stop)
        release_freed_memory()  # the chunk and what its consumer made of it are freed by now
        progress.advance(stop - start)


class StreamedFrames(Dataset):
    """A streamed source as a torch ``Dataset`` of converted frames, read by spans.

    Parameters
    ----------
    source : FrameSource
    spans : list of (start, stop)
        The chunks, in raster order.
    convert : callable
        ``convert(frames, start)``: a raw chunk (m, K) -> float32 (m, K) for
        the network, raising on bad values (it names the frames from ``start``).
    """

    def __init__(self, source, spans, convert):
        self.source = source
        self.spans = list(spans)
        self.convert = convert
        self._len = sum(stop - start for start, stop in self.spans)

    def __len__(self):
        return self._len

    def __getitem__(self, index):
        # Random access reads a whole chunk for one frame: only for tools
        # that insist; training and inference go by spans.
        for start, stop in self.spans:
            if index < stop - start:
                return self.read_span((start, stop))[index], 0.0
            index -= stop - start
        raise IndexError(index)

    def read_span(self, span, out=None):
        start, stop = span
        return self.convert(self.source.read(start, stop), start, out=out)

    def read_block(self, spans, out=None):
        """The converted frames of ``spans``, one after the other, in one float32 array.

        Written into the first rows of ``out`` when given (a buffer used
        again and again: a fresh 128 MiB array a block costs page faults
        that take longer than the reading).
        """
        rows = sum(stop - start for start, stop in spans)
        out = np.empty((rows, self.source.n_features), dtype=np.float32) if out is None else out[:rows]
        row = 0
        for start, stop in spans:
            self.read_span((start, stop), out=out[row : row + stop - start])
            row += stop - start
            release_freed_memory()  # the raw chunk
        return out

    def subset(self, indices):
        return StreamedFrames(self.source, [self.spans[i] for i in indices], self.convert)

    @property
    def spans_per_block(self):
        widest = max(stop - start for start, stop in self.spans)
        return max(1, BLOCK_BYTES // (4 * self.source.n_features * widest))


class BlockShuffleLoader:
    """Mini-batches of a ``StreamedFrames``: chunks shuffled, then frames within a block.

    skorch's ``iterator_train`` / ``iterator_valid`` for streamed data. Each
    epoch draws a new order of the chunks, groups them into blocks of
    ``spans_per_block`` and draws a permutation of each block's frames; a
    block's last batch may be short. One background thread reads the next
    block meanwhile, across epochs too: the last block of an epoch is
    trained on while the first of the next is read (not after the last of
    ``epochs``). Blocks are read into two buffers in turn, kept for the
    loader's life (freed after its last epoch), and every batch is a copy,
    so nothing handed out changes under the consumer. Data that fit in one
    block are read once and kept, and their order is one permutation of
    all frames per epoch: the same draw as ``BatchIndexLoader`` on the data
    in memory. Shuffling draws from torch's RNG in the calling thread
    (seeded per fit by the estimators); the reading thread draws nothing.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, epochs=None):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.epochs = epochs  # None: read ahead after every epoch
        self._epoch = 0
        self._whole = None  # the one block, when the data fit in one
        self._ahead = None  # (blocks of the next epoch, the future reading its first)
        self._reader = None
        self._buffers = [None, None]
        self._turn = 0  # which buffer the next read fills

    def __len__(self):
        ds, bs = self.dataset, self.batch_size
        sizes = [stop - start for start, stop in ds.spans]
        per_block = ds.spans_per_block
        return sum(-(-sum(sizes[k : k + per_block]) // bs) for k in range(0, len(sizes), per_block))

    def _draw_blocks(self):
        ds = self.dataset
        order = torch.randperm(len(ds.spans)).tolist() if self.shuffle else range(len(ds.spans))
        per_block = ds.spans_per_block
        order = list(order)
        return [[ds.spans[i] for i in order[k : k + per_block]] for k in range(0, len(order), per_block)]

    def _read(self, spans):
        if self._reader is None:
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="sklearn_rvae-reader")
            weakref.finalize(self, self._reader.shutdown, wait=False, cancel_futures=True)
        ds = self.dataset
        turn, self._turn = self._turn, 1 - self._turn
        if self._buffers[turn] is None:
            widest = max(stop - start for start, stop in ds.spans)
            self._buffers[turn] = np.empty((ds.spans_per_block * widest, ds.source.n_features), dtype=np.float32)
        return self._reader.submit(ds.read_block, spans, self._buffers[turn])

    def _batches(self, block):
        order = torch.randperm(len(block)) if self.shuffle else None
        bs = self.batch_size
        for start in range(0, len(block), bs):
            Xb = block[start : start + bs].clone() if order is None else block[order[start : start + bs]]
            yield Xb, torch.zeros(len(Xb))

    def __iter__(self):
        ds = self.dataset
        self._epoch += 1
        if len(ds.spans) <= ds.spans_per_block:
            if self._whole is None:
                self._whole = torch.from_numpy(ds.read_block(ds.spans))
            yield from self._batches(self._whole)
            return
        if self._ahead is None:
            blocks = self._draw_blocks()
            pending = self._read(blocks[0])
        else:
            blocks, pending = self._ahead
            self._ahead = None
        for b in range(len(blocks)):
            block = torch.from_numpy(pending.result())
            if b + 1 < len(blocks):
                pending = self._read(blocks[b + 1])
            elif self.epochs is None or self._epoch < self.epochs:
                # The next epoch's first block, read while this one trains.
                following = self._draw_blocks()
                self._ahead = (following, self._read(following[0]))
            yield from self._batches(block)
            del block
        if self._ahead is None:
            self._buffers = [None, None]


def frame_loader(dataset, batch_size=128, shuffle=False, epochs=None):
    """skorch's iterator for either kind of data: ``BlockShuffleLoader`` when streamed, else ``BatchIndexLoader``."""
    if isinstance(dataset, StreamedFrames):
        return BlockShuffleLoader(dataset, batch_size, shuffle, epochs)
    return BatchIndexLoader(dataset, batch_size, shuffle)


class SpanValidSplit:
    """skorch ``train_split`` for ``StreamedFrames``: whole chunks held out at random.

    ``ceil(fraction * n_chunks)`` chunks (drawn with ``seed``) validate, the
    rest train, so that neither side reads a chunk for a few of its frames.
    """

    def __init__(self, fraction, seed):
        self.fraction = fraction
        self.seed = seed

    def __call__(self, dataset, y=None, **fit_params):
        n = len(dataset.spans)
        n_valid = math.ceil(n * self.fraction)
        order = np.random.RandomState(self.seed).permutation(n)
        valid, train = np.sort(order[:n_valid]), np.sort(order[n_valid:])
        return dataset.subset(train), dataset.subset(valid)


def valid_spans(source, step, fraction):
    """Spans fine enough that ``fraction`` of them leaves at least one on each side."""
    spans = source.spans(step)
    need = max(2, math.ceil(2 / min(fraction, 1 - fraction)))
    if len(spans) < need:
        spans = source.spans(max(1, source.n_frames // need))
    if len(spans) < 2:
        raise ValueError(
            f"early_stopping needs at least 2 frames to hold one out; X has {source.n_frames}."
        )
    return spans


class ChunkMethod:
    """An estimator's method applied to one chunk, as ``map_frames`` calls it (picklable, for dask's blocks).

    ``convert(chunk, start)`` makes the method's input of a raw chunk (float64
    rows when None); the result is read as (rows, n_out), so that a method
    giving one value per row (a 1-D prediction) fits the block as well.
    """

    def __init__(self, estimator, method, convert=None, kwargs=None):
        self.estimator, self.method, self.convert, self.kwargs = estimator, method, convert, kwargs or {}

    def __call__(self, chunk, start):
        rows = (np.asarray(chunk, dtype=np.float64).reshape(len(chunk), -1) if self.convert is None
                else self.convert(chunk, start))
        return np.asarray(getattr(self.estimator, self.method)(rows, **self.kwargs)).reshape(len(chunk), -1)


def map_frames(source, step, fn, n_out, dtype=np.float64):
    """``fn`` (raw chunk (m, K), start) -> (m, n_out) over a streamed source, as a lazy dask array.

    One block per chunk; a file or memmap is read through ``FrameSource.read``
    when a block is computed, a dask array keeps its own graph. With a
    ``dask.distributed`` client active, ``fn`` (which holds the fitted
    model) goes to every worker once, scattered, rather than with every
    block's task.
    """
    frames = source.to_dask(step)
    starts = np.cumsum((0,) + frames.chunks[0][:-1])

    def block(chunk, fn, block_info=None):
        with one_torch_thread_off_main():
            out = fn(chunk, int(starts[block_info[0]["chunk-location"][0]]))
        release_freed_memory()
        return out

    return frames.map_blocks(block, scattered(fn), dtype=dtype, chunks=(frames.chunks[0], (n_out,)),
                             meta=np.empty((0, 0), dtype))


def store(result, out, label="", verbose=0):
    """Compute a lazy (n, k) result block by block into ``out`` (an ndarray, zarr array or HDF5 dataset).

    Returns ``out``. Each block is computed on its own and written before
    the next one, so memory holds one block, whatever the scheduler.
    """
    shape = tuple(result.shape)
    out_shape = tuple(getattr(out, "shape", ()))
    if out_shape != shape:
        raise ValueError(f"out must have shape {shape} (one row per frame), got {out_shape or type(out).__name__}.")
    if not hasattr(out, "__setitem__"):
        raise TypeError(f"out must be a writable array (ndarray, zarr array, HDF5 dataset), got {type(out).__name__}.")
    if _kind(result) != "dask":
        out[...] = result
        return out
    progress = Progress(label, shape[0], verbose, unit="frames")
    start = 0
    for i, rows in enumerate(result.chunks[0]):
        out[start : start + rows] = np.asarray(result.blocks[i].compute(scheduler="sync"))
        release_freed_memory()
        start += rows
        progress.advance(rows)
    return out
