#!/usr/bin/env bash
# Builds the venv of the reference implementations the benchmarks compare against, from this clone alone:
#   AtomAI 0.8.1 (rVAE), pyroVED 0.3.0 (iVAE), LiberTEM 0.16 (CoMUDF), Atomap 0.4.2 (column finding),
#   TARGET-VAE (its sources at commit d98b087, not on PyPI), on the CPU torch wheel of constraints.txt.
# Where:  $PEER_VENV, default $HOME/.cache/sklearn_rvae_peers (benchmarks/_peers.py reads the same).
# Usage (from the repository root):  bash benchmarks/peers/setup.sh
# Rebuilt only when requirements.txt changes. Needs Python 3.11 and PyPI; TARGET-VAE also needs github.com
# (or TARGET_VAE_SRC pointing at a copy of its sources; without either, only --target-vae cannot run).
# requirements.txt is the freeze of a venv resolved from this top-level list (torch installed first):
#   pip install --no-deps atomai==0.8.1 mendeleev==0.6.1 pyroved==0.3.0 gpytorch linear_operator jaxtyping
#   pip install numpy scipy scikit-learn scikit-image opencv-python-headless networkx progressbar2 pandas \
#     matplotlib sqlalchemy pyfiglet six colorama pyro-ppl libertem atomap==0.4.2 seaborn astropy wadler-lindig
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
P="${PEER_VENV:-$HOME/.cache/sklearn_rvae_peers}"
STAMP="$(sha256sum "$HERE/requirements.txt" "$0" | sha256sum | cut -c1-16)"
if [ -f "$P/.ready" ] && [ "$(cat "$P/.ready")" = "$STAMP" ]; then
  echo "peers' venv up to date: $P"; exit 0
fi
if [ -e "$P" ] && [ ! -f "$P/pyvenv.cfg" ] && [ -n "$(ls -A "$P")" ]; then
  echo "$P exists and is not a venv: set PEER_VENV to another place"; exit 1
fi
rm -rf "$P"
python3.11 -m venv "$P" 2>/dev/null || python3 -m venv "$P"
"$P/bin/pip" install -q --upgrade pip
# torch first and alone, as the project's own install takes it (the CPU wheel); then the frozen set without
# resolving: AtomAI and pyroVED would otherwise pull torchvision, and with it a CUDA build of torch.
TORCH="$(grep -E '^torch==' "$HERE/../../constraints.txt")"
"$P/bin/pip" install -q "$TORCH"
"$P/bin/pip" install -q --no-deps -r "$HERE/requirements.txt"
# AtomAI and pyroVED declare torchvision, which the shim stands in for, and AtomAI opencv-python, whose cv2
# opencv-python-headless provides; any other conflict is an error.
if ! CHECK="$("$P/bin/pip" check 2>&1)"; then
  OTHER="$(printf '%s\n' "$CHECK" | grep -v -e 'requires torchvision, which is not installed' \
           -e 'requires opencv-python, which is not installed' || true)"
  if [ -n "$OTHER" ]; then printf '%s\n' "$OTHER"; echo "the peers' requirements do not agree"; exit 1; fi
fi
TARGET_VAE_COMMIT=d98b087
if [ -z "${TARGET_VAE_SRC:-}" ]; then
  if git clone -q https://github.com/SMLC-NYSBC/TARGET-VAE "$P/src/TARGET-VAE" 2>/dev/null; then
    git -C "$P/src/TARGET-VAE" checkout -q "$TARGET_VAE_COMMIT"
  else
    echo "note: github.com unreachable; TARGET-VAE rows need TARGET_VAE_SRC=<a copy of its sources at $TARGET_VAE_COMMIT>"
  fi
fi
# Every peer imports in the venv, with the torchvision stand-in on the path.
PYTHONPATH="$HERE/shim" "$P/bin/python" -c "import atomai, pyroved, libertem, atomap; print('peers import')"
echo "$STAMP" > "$P/.ready"
echo "peers' venv ready: $P"
