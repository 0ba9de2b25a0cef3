"""Where the pixels of an image are, and how a pose moves them: the geometry every rVAE module shares.

Pose convention (used everywhere in the package): an image is a (h, w) array
shown with row 0 at the top. A positive angle rotates the image
counter-clockwise on screen about its centre, as ``scipy.ndimage.rotate``
does; the shift ``(dx, dy)`` is in pixels, dx along columns (right) and dy
along rows (down), applied after the rotation.
"""

import torch
import torch.nn.functional as F


def pixel_grid(image_shape):
    """Pixel-centre coordinates (x, y) relative to the image centre, shape (h*w, 2)."""
    h, w = image_shape
    ys = torch.arange(h, dtype=torch.float32) - (h - 1) / 2.0
    xs = torch.arange(w, dtype=torch.float32) - (w - 1) / 2.0
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def upright_coordinates(points, angle, shift):
    """Map output pixel positions to the upright frame: ``R(angle) (p - shift)``.

    ``points`` (P, 2) in pixels, ``angle`` (B,) in radians, ``shift`` (B, 2)
    in pixels or None. Returns (B, P, 2). With y pointing down, this matrix
    makes the output the upright image rotated counter-clockwise on screen.
    """
    p = points.unsqueeze(0)
    if shift is not None:
        p = p - shift.unsqueeze(1)
    cos = torch.cos(angle)[:, None]
    sin = torch.sin(angle)[:, None]
    x, y = p[..., 0], p[..., 1]
    return torch.stack([cos * x - sin * y, sin * x + cos * y], dim=-1)


def warp_images(images, angle, shift, points=None):
    """Rotate (about the centre) then shift a batch of images, differentiably.

    ``images`` (B, C, h, w); ``angle`` (B,) radians; ``shift`` (B, 2) pixels
    or None; ``points``, optionally, ``pixel_grid((h, w))`` computed once by
    the caller. Pixels that come from outside the frame are zero. Same result
    as ``F.affine_grid`` + ``grid_sample``, with the grid built directly from
    the pixel coordinates (fewer small ops per step).
    """
    b, _, h, w = images.shape
    if points is None:
        points = pixel_grid((h, w)).to(images)
    # grid_sample reads coordinates normalised to [-1, 1] over the frame's
    # outer pixel edges (align_corners=False): x / (w/2), y / (h/2).
    grid = upright_coordinates(points, angle, shift) * points.new_tensor([2.0 / w, 2.0 / h])
    return F.grid_sample(
        images, grid.view(b, h, w, 2), mode="bilinear", padding_mode="zeros", align_corners=False
    )
