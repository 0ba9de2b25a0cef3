"""Turning images by many angles at once: one sparse matrix of bilinear weights, with its own gradients.

The circular rVAE compares every image with its decoded template turned to
each of K rotation bins. Turning with ``grid_sample`` K times over would
hold K copies of every intermediate for the backward pass; one sparse
(h * w * K, h * w) matrix does the K turns in one product, and the custom
autograd functions here give its gradient without keeping the turned copies.
"""

import warnings

import torch

from ._geometry import pixel_grid, upright_coordinates


def turn_matrix(image_shape, angles):
    """Sparse (h * w * K, h * w) CSR matrix that turns an image by each of ``angles``.

    Row ``p * K + k`` holds the bilinear weights of :func:`warp_images` at
    angle ``angles[k]`` (radians, no shift; zero outside the frame) for
    output pixel p, so ``(M @ X).view(h * w, K, B)`` turns the images held as
    the columns of X by every angle. For angles fixed once (the rotation
    bins) this gathers four pixels per output pixel: far cheaper on a CPU
    than K resamplings.
    """
    h, w = image_shape
    points = pixel_grid(image_shape).double()
    angles = torch.as_tensor(angles, dtype=torch.float64)
    n_pix = h * w
    src = upright_coordinates(points, angles, None)  # (K, P, 2)
    col = src[..., 0] + (w - 1) / 2.0
    row = src[..., 1] + (h - 1) / 2.0
    c0, r0 = torch.floor(col), torch.floor(row)
    fc, fr = col - c0, row - r0
    out_index = torch.arange(n_pix * len(angles)).view(n_pix, len(angles)).T
    rows, cols, vals = [], [], []
    for dr, dc, weight in [(0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                           (1, 0, fr * (1 - fc)), (1, 1, fr * fc)]:
        rr, cc = r0 + dr, c0 + dc
        inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w) & (weight > 0)
        rows.append(out_index[inside])
        cols.append((rr[inside] * w + cc[inside]).long())
        vals.append(weight[inside])
    with warnings.catch_warnings():
        # torch flags sparse CSR as beta and its invariant checks as off.
        warnings.simplefilter("ignore", UserWarning)
        matrix = torch.sparse_coo_tensor(
            torch.stack([torch.cat(rows), torch.cat(cols)]), torch.cat(vals).float(),
            (n_pix * len(angles), n_pix),
        )
        return matrix.coalesce().to_sparse_csr()


def _sparse_mm(matrix, dense):
    """CSR times row-major dense into a new row-major result."""
    return torch.mm(matrix, dense, out=dense.new_empty(matrix.shape[0], dense.shape[1]))


class TurnedSquaredError(torch.autograd.Function):
    """``||turn_k(posed_b) - x_b||^2`` for every bin k and image b, as (K, B).

    One fused step instead of autograd's chain (turn, subtract, square, sum
    and their backward passes): the (P, K, B) stack of turned copies is the
    largest tensor of a training step. Here it is allocated once, the
    difference is taken in place and kept for the backward pass, which
    reuses it for the gradient (so the backward pass runs once:
    ``once_differentiable``). Differentiable in ``posed`` only.
    """

    @staticmethod
    def forward(ctx, matrix, matrix_t, posed, x):
        n_pix, b = posed.shape
        diff = _sparse_mm(matrix, posed).view(n_pix, -1, b)
        diff.sub_(x.unsqueeze(1))
        ctx.save_for_backward(matrix_t, diff)
        ctx.used = False
        return torch.linalg.vector_norm(diff, dim=0).square_()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        if ctx.used:
            raise RuntimeError("the circular rVAE's likelihood can be backpropagated once per forward pass.")
        ctx.used = True
        matrix_t, diff = ctx.saved_tensors
        n_pix, _, b = diff.shape
        diff.mul_((2.0 * grad).unsqueeze(0))
        return None, None, _sparse_mm(matrix_t, diff.view(-1, b)), None


class SparseTurn(torch.autograd.Function):
    """``matrix @ columns`` with the transpose given, so the backward pass does
    not transpose (sort) the sparse matrix on every step."""

    @staticmethod
    def forward(ctx, matrix, matrix_t, columns):
        ctx.save_for_backward(matrix_t)
        return _sparse_mm(matrix, columns)

    @staticmethod
    def backward(ctx, grad):
        (matrix_t,) = ctx.saved_tensors
        return None, None, _sparse_mm(matrix_t, grad.contiguous())


def turn_all(matrix, columns, matrix_t=None):
    """Turn images held as the columns of ``columns`` (P, B) by every angle of a :func:`turn_matrix`.

    Returns (P, K, B): pixels first, so the turned copies of one pixel lie
    together and the products over pixels need no transposed copy. With
    ``matrix_t`` (the matrix's transpose, also CSR) the result is
    differentiable with respect to ``columns``.
    """
    n_pix, b = columns.shape
    columns = columns.contiguous()  # CSR times a row-major dense is the fast path
    if matrix_t is None:
        out = _sparse_mm(matrix, columns)
    else:
        out = SparseTurn.apply(matrix, matrix_t, columns)
    return out.view(n_pix, -1, b)
