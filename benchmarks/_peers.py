"""Where the peers' venv is and how to run a peer script in it (built by ``bash benchmarks/peers/setup.sh``).

The peers (AtomAI, pyroVED, LiberTEM, Atomap, TARGET-VAE) cannot share our
venv: they pin other releases of numpy, scikit-learn and hyperspy, and two of
them import torchvision at import time. ``setup.sh`` builds their venv at
``$PEER_VENV`` (default ``~/.cache/sklearn_rvae_peers``) from
``benchmarks/peers/requirements.txt``; each ``_peer_*.py`` script runs there,
in a child process, and hands its results back through files.
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_VENV = Path(os.environ.get("PEER_VENV", Path.home() / ".cache" / "sklearn_rvae_peers"))
PEER_PYTHON = PEER_VENV / "bin" / "python"
# An import-only torchvision (AtomAI and pyroVED import it; their VAE paths never call it).
PEER_SHIM = HERE / "peers" / "shim"
# TARGET-VAE is not on PyPI: setup.sh clones it here (or set TARGET_VAE_SRC to a copy).
TARGET_VAE_SRC = Path(os.environ.get("TARGET_VAE_SRC", PEER_VENV / "src" / "TARGET-VAE"))
SETUP = "bash benchmarks/peers/setup.sh"


def require_peers(what="--peers"):
    """Exit with the command that builds the peers' venv when it is not there."""
    if not (PEER_VENV / ".ready").exists():
        sys.exit(f"{what} needs the peers' venv at {PEER_VENV}: run `{SETUP}` from the repository root "
                 "(or set PEER_VENV to one built by it).")


def peer_env(**extra):
    """The environment a peer script runs in: our shim first on its path."""
    return dict(os.environ, PYTHONPATH=str(PEER_SHIM), **extra)


def run_peer(script, *args, env=None, **kwargs):
    """``python benchmarks/<script> args...`` in the peers' venv; raises if it fails."""
    return subprocess.run([str(PEER_PYTHON), str(HERE / script), *map(str, args)], check=True,
                          env=peer_env(**(env or {})), **kwargs)
