"""How every torch-backed estimator trains its private skorch net.

The public estimators compose skorch rather than inherit it: ``fit`` builds a
``NeuralNet`` with ``training_callbacks`` (the user's callbacks cloned, the
estimator's own, a divergence guard and, with ``early_stopping``, a
validation split and ``EarlyStopping``) and trains it with ``train_net``
(under a local torch seed; a NaN loss becomes an error that names its likely
causes). skorch itself moves a CUDA-trained net to the CPU when it is
unpickled on a machine without a GPU.
"""

import math
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import ValidSplit
from skorch.utils import to_tensor
from torch.utils.data import Subset

from ._malloc import heap_kept_for_training
from ._utils import local_torch_seed, one_torch_thread_off_main


class DivergedError(ValueError):
    """Training diverged (``train_net``); the message names the epoch and the likely causes."""


def check_validation_split(n_samples, validation_fraction):
    """Raise unless ``validation_fraction`` leaves at least one training and one validation sample."""
    n_valid = math.ceil(n_samples * validation_fraction)
    if n_valid < 1 or n_samples - n_valid < 1:
        raise ValueError(
            f"validation_fraction={validation_fraction} leaves {n_samples - n_valid} training and "
            f"{n_valid} validation sample(s) of {n_samples}; early_stopping needs at least one of each."
        )


def training_callbacks(estimator, seed, own=(), split=True):
    """``(callbacks, train_split)`` for an estimator's skorch net.

    ``estimator`` supplies ``callbacks``, ``early_stopping``,
    ``validation_fraction``, ``n_iter_no_change`` and ``verbose``; ``own``
    are its own ``(name, callback)`` pairs. ``split=False`` (``partial_fit``)
    leaves out the validation split and early stopping.
    """
    callbacks = clone_callbacks(estimator.callbacks) + list(own) + [("divergence_guard", DivergenceGuard())]
    train_split = None
    if estimator.early_stopping and split:
        train_split = ValidSplit(estimator.validation_fraction, random_state=seed)
        callbacks.append((
            "early_stopping",
            EarlyStopping(monitor="valid_loss", patience=estimator.n_iter_no_change, load_best=True,
                          sink=print if estimator.verbose else (lambda *a: None)),
        ))
    return callbacks, train_split


def data_parallel_world():
    """``(rank, world_size)`` of the torch.distributed process group this process is in, or None."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return None
    world = torch.distributed.get_world_size()
    return None if world < 2 else (torch.distributed.get_rank(), world)


def unwrapped(module):
    """The model inside a ``DistributedDataParallel`` wrapper (the module itself otherwise)."""
    return module.module if isinstance(module, torch.nn.parallel.DistributedDataParallel) else module


class DataParallel(Callback):
    """Train the net's module as ``DistributedDataParallel`` in a torch.distributed process group.

    Wrapped when training begins (after skorch has built the module and its
    optimiser, whose parameters stay the same tensors) and unwrapped when it
    ends, so that the fitted net holds the plain module. Every process runs
    the same fit on its own shard (``shard``) with batches of ``batch_size /
    world_size``: DDP averages the gradients over the processes at every
    step, so the model is one, trained with batches of ``batch_size`` and as
    many steps per epoch as in one process.
    """

    def on_train_begin(self, net, **kwargs):
        net.module_ = torch.nn.parallel.DistributedDataParallel(unwrapped(net.module_))

    def on_train_end(self, net, **kwargs):
        net.module_ = unwrapped(net.module_)
        # Buffers (a batch norm's running statistics) follow each process's last batches: take rank 0's.
        for buffer in net.module_.buffers():
            torch.distributed.broadcast(buffer, src=0)


def shard(X, y, world):
    """This process's rows of in-memory training data: every ``world_size``-th, all shards of one length.

    DDP needs every process to take as many steps as the others; the last
    ``n % world_size`` rows are left out of training (at most world_size - 1).
    """
    rank, size = world
    if not isinstance(X, (np.ndarray, torch.Tensor)):
        raise ValueError(
            f"Data-parallel training (a torch.distributed process group of {size}) takes data in memory; got "
            f"{type(X).__name__}. Read the scan into memory on each process, or train in one process."
        )
    n = (len(X) // size) * size
    if n < size:
        raise ValueError(f"Data-parallel training over {size} processes needs at least {size} samples; X has {len(X)}.")
    rows = slice(rank, n, size)
    return X[rows], (None if y is None else y[rows])


def agreed(value):
    """``value`` averaged over the processes of data-parallel training (itself in one process).

    Each process's loss is that of its own shard; a choice made from it (the
    best of ``n_init`` trainings) must be the same in every process.
    """
    if data_parallel_world() is None:
        return value
    total = torch.tensor([float(value)], dtype=torch.float64)
    torch.distributed.all_reduce(total)
    return float(total.item()) / torch.distributed.get_world_size()


def _join_data_parallel(net, X, y, world):
    """Set ``net`` up to train with the other processes of the group; return this process's shard of X, y."""
    if net.train_split is not None:
        raise ValueError("early_stopping holds out a validation split per process, whose stopping epochs would "
                         "differ between the processes of data-parallel training; set early_stopping=False there.")
    net.batch_size = max(1, net.batch_size // world[1])  # batches of batch_size over the group (train_net restores)
    if net.initialized_:  # partial_fit: skorch builds no callbacks again
        if "data_parallel" not in dict(net.callbacks_):
            net.callbacks_.append(("data_parallel", DataParallel().initialize()))
    elif "data_parallel" not in dict(net.callbacks or []):
        net.callbacks = list(net.callbacks or []) + [("data_parallel", DataParallel())]
    return shard(X, y, world)


def train_net(estimator, net, X, y, seed, device, causes, epochs=None):
    """``net.fit(X, y)`` under a local torch seed, leaving the net in inference mode.

    With ``epochs``, ``net.partial_fit`` for that many epochs instead: the
    net goes on from its weights and optimiser state.

    A diverged training raises a ``DivergedError`` (a ``ValueError``) that
    names the epoch, the batch and ``causes()`` (a callable, so that the
    estimator's likely culprits are described only when needed); the epochs
    so far are kept in ``estimator.history_``. The trained net is left in
    eval mode, so that predicting never changes the fitted estimator.
    """
    world = data_parallel_world()
    batch_size = net.batch_size
    try:
        if world is not None:
            X, y = _join_data_parallel(net, X, y, world)
        # A fit in a pool's worker thread (a grid search on joblib's threading or dask backend) is one of
        # several side by side: one torch thread each.
        with local_torch_seed(seed, device), one_torch_thread_off_main(), heap_kept_for_training():
            if epochs is None:
                net.fit(X, y)
            else:
                net.partial_fit(X, y, epochs=epochs)
    except Diverged as exc:
        estimator.history_ = history_frame(net.history)
        raise DivergedError(
            f"Training diverged: the loss became {exc.loss} at epoch {exc.epoch}, batch {exc.batch}. "
            f"Likely causes: {causes()}. The epochs so far are in history_."
        ) from None
    finally:
        net.batch_size = batch_size
    guard = dict(net.callbacks_).get("divergence_guard")
    if guard is not None and guard.blown_up_ is not None:
        epoch, loss, best = guard.blown_up_
        warnings.warn(
            f"Training loss blew up without becoming NaN: {loss:.4g} at epoch {epoch}, against {best:.4g} at "
            f"best before it (history_ has every epoch). Likely causes: {causes()}.",
            ConvergenceWarning, stacklevel=3,
        )
        guard.blown_up_ = None  # said once; a later partial_fit call says it again only if it happens again
    net.module_.eval()
    net.criterion_.eval()
    return net


def clone_callbacks(callbacks):
    """Fresh copies of user skorch callbacks, so a fit never mutates the user's objects."""
    if callbacks is None:
        return []
    out = []
    for i, cb in enumerate(callbacks):
        name = None
        if isinstance(cb, tuple) and len(cb) == 2 and isinstance(cb[0], str):
            name, cb = cb
        if not isinstance(cb, Callback):
            raise TypeError(
                f"callbacks[{i}] must be a skorch Callback or a (name, Callback) pair, got {cb!r}."
            )
        cb = clone(cb, safe=False)
        out.append((name if name is not None else f"user_callback_{i}_{type(cb).__name__}", cb))
    return out


class ModuleLossNet(NeuralNet):
    """A skorch net whose criterion reads the module's tuple output and the input.

    Unsupervised models have no target: the criterion gets the whole tuple
    ``y_pred`` the module returned, the batch ``X``, the epoch number (for
    schedules such as capacity annealing) and the module (for a learned prior).
    """

    def _set_training(self, training=True):
        # skorch calls this before every batch and module.train() walks the
        # whole module tree; skip it when the mode is already right.
        if self.module_.training != training or self.criterion_.training != training:
            super()._set_training(training)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        x = to_tensor(X, device=self.device)
        return self.criterion_(y_pred, x, epoch=len(self.history), module=unwrapped(self.module_))


class Diverged(Exception):
    """A training loss became NaN or infinite (raised by ``DivergenceGuard``)."""

    def __init__(self, loss, epoch, batch):
        super().__init__(f"loss {loss} at epoch {epoch}, batch {batch}")
        self.loss, self.epoch, self.batch = loss, epoch, batch


class DivergenceGuard(Callback):
    """Stop training at the first batch whose loss is not finite; note an epoch whose loss blew up.

    A diverged network goes on returning NaN codes and predictions; the
    estimators turn ``Diverged`` into an error that names the likely causes.
    A loss that stays finite but grows by ``BLOW_UP`` times the scale of the
    losses so far (the larger of the first epoch's and the best epoch's
    magnitude) is a training on its way there: the first such epoch is kept
    in ``blown_up_`` (epoch, loss, best) for ``train_net`` to warn about.
    """

    BLOW_UP = 100.0

    def initialize(self):
        self.blown_up_ = None
        self._first = self._best = None
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.batch_ = 0

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss")
        if loss is None or not math.isfinite(loss):
            return
        if self._first is None:
            self._first = self._best = loss
            return
        scale = max(abs(self._first), abs(self._best), 1e-12)
        if self.blown_up_ is None and loss - self._best > self.BLOW_UP * scale:
            self.blown_up_ = (len(net.history), loss, self._best)
        self._best = min(self._best, loss)

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        self.batch_ += 1
        value = loss.item() if isinstance(loss, torch.Tensor) else loss
        if value is not None and not math.isfinite(value):
            raise Diverged(value, len(net.history), self.batch_)


def history_frame(history):
    """skorch History -> per-epoch pandas DataFrame (batch records dropped)."""
    rows = [{k: v for k, v in row.items() if k != "batches"} for row in history]
    return pd.DataFrame(rows)


class BatchIndexLoader:
    """Mini-batch iterator that takes each batch with one fancy index.

    A drop-in for skorch's ``iterator_train`` / ``iterator_valid`` over
    in-memory arrays: torch's DataLoader fetches samples one by one and
    collates them, which cost about 30% of an epoch of the fast rVAE on a
    CPU. Accepts skorch's ``Dataset`` and the ``Subset`` its ``ValidSplit``
    returns. Shuffling draws from torch's RNG (seeded per fit by the
    estimators). Yields ``(X_batch, y_batch)`` tensors; y is a placeholder
    when the net has no target.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False):
        indices = None
        if isinstance(dataset, Subset):
            dataset, indices = dataset.dataset, np.asarray(dataset.indices)
        X, y = dataset.X, dataset.y
        if indices is not None:
            X = X[indices]
            y = None if y is None else y[indices]
        self.X = torch.as_tensor(X)
        self.y = None if y is None else torch.as_tensor(y)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)

    def __len__(self):
        return -(-len(self.X) // self.batch_size)

    def __iter__(self):
        n = len(self.X)
        order = torch.randperm(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            idx = slice(start, start + self.batch_size) if order is None else order[start : start + self.batch_size]
            Xb = self.X[idx]
            yb = torch.zeros(len(Xb)) if self.y is None else self.y[idx]
            yield Xb, yb
