"""The one base of the torch-backed estimators: shared training parameters, fit scaffold, batched inference.

``RotationInvariantVAE`` and ``TiltRegressor`` train a private skorch net
the same way: Adam at ``lr`` over ``max_epochs`` of ``batch_size``, an
optional validation split with early stopping, the user's callbacks cloned,
a local seed, a device. This base holds those parameters and their
constraints (as scikit-learn's ``_BaseNMF`` holds NMF's), builds the net
with them (``_new_net``), keeps what every fit keeps (``_keep_trained``)
and runs the trained module over X in batches (``_forward``). What a model
is, its module, loss and data, stays with the estimator.
"""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ._streaming import SpanValidSplit
from ._training import check_validation_split, history_frame, training_callbacks
from ._utils import Interval, resolve_device


class TorchEstimatorBase(BaseEstimator):
    """Training parameters and scaffold shared by the torch-backed estimators.

    Not for direct use. Subclasses list these parameters in their own
    ``__init__`` (scikit-learn reads the signature there) with their own
    defaults, and pass them on to this ``__init__``.

    Parameters
    ----------
    lr : float
        Adam's learning rate.
    batch_size : int
        Mini-batch size.
    max_epochs : int
        Passes over the training data (the most, with early stopping).
    early_stopping : bool
        Hold out ``validation_fraction`` and stop when the validation loss has
        not improved for ``n_iter_no_change`` epochs; the best weights are kept.
    validation_fraction : float
        Held-out fraction with ``early_stopping``.
    n_iter_no_change : int
        Patience of early stopping, in epochs.
    device : str or torch.device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    callbacks : list of skorch callbacks or (name, callback) pairs, or None
        Extra skorch callbacks, cloned before each fit.
    random_state : int, RandomState instance or None
        Seeds the fit; the global numpy and torch RNGs are left as they were.
    verbose : int
        skorch's per-epoch table when positive.
    """

    _parameter_constraints: dict = {
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, *, lr, batch_size, max_epochs, early_stopping, validation_fraction, n_iter_no_change, device,
                 callbacks, random_state, verbose):
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    def _start_fit(self, n_samples):
        """The checked device of a fit on ``n_samples``; an early-stopping split that leaves a side empty raises."""
        if self.early_stopping:
            check_validation_split(n_samples, self.validation_fraction)
        return resolve_device(self.device)

    def _new_net(self, net_class, seed, device, *, own_callbacks=(), split=True, streamed=False, **net_params):
        """A ``net_class`` (a skorch net) trained by Adam with this estimator's training parameters.

        ``own_callbacks`` are the estimator's ``(name, callback)`` pairs, run
        beside the user's; ``split=False`` (``partial_fit``) leaves out the
        validation split and early stopping; ``streamed`` data are split by
        whole spans of chunks. ``net_params`` are the model's own (module,
        criterion, iterators).
        """
        callbacks, train_split = training_callbacks(self, seed, own=own_callbacks, split=split)
        if streamed and train_split is not None:
            train_split = SpanValidSplit(self.validation_fraction, seed)
        return net_class(
            optimizer=torch.optim.Adam,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=train_split,
            callbacks=callbacks or None,
            iterator_train__shuffle=True,
            device=device,
            verbose=self.verbose,
            **net_params,
        )

    def _keep_trained(self, net):
        """Keep a trained net (``net_``, ``history_``, ``n_iter_``), its module in float64 for inference.

        Inference runs in float64: float32 matmuls and convolutions round
        differently with the batch's composition, and a sample's result must
        not depend on its neighbours in X (or on the order of X).
        """
        net.module_.double()
        self.net_ = net
        self.history_ = history_frame(net.history)
        self.n_iter_ = len(net.history)

    def _forward(self, X, batch_size=None):
        """The trained module's outputs on float64 rows X, in batches, as numpy (a tuple when the module returns one).

        Runs on ``net_.device``: skorch moves a CUDA-trained net to the CPU
        when it is unpickled on a machine without a GPU.
        """
        module, device = self.net_.module_, self.net_.device
        step = int(batch_size or self.batch_size)
        outputs = []
        with torch.inference_mode():
            module.eval()
            for start in range(0, len(X), step):
                outputs.append(module(torch.as_tensor(np.asarray(X[start : start + step], dtype=np.float64),
                                                      device=device)))
        if not outputs:
            raise ValueError("X has no rows to run the network on.")
        if isinstance(outputs[0], (tuple, list)):
            return tuple(torch.cat(parts).detach().cpu().numpy() for parts in zip(*outputs))
        return torch.cat(outputs).detach().cpu().numpy()
