"""Drawing phantom chest films: anatomy, lesions, exposure, noise and side markers.

The private half of :mod:`daylib.data.phantom`, which holds the public API
(:func:`~daylib.data.phantom.make_phantom`) and says what the images look like.
Here, one film at a time: every structure is drawn with OpenCV in *attenuation*
(bright = dense) as a polygon or thick polyline, blurred and summed with its
own density; a chunk of films then goes through the exposure curve
``1 - exp(-mu * A)``, a per-image window and gamma, then noise. Side markers are
burned in afterwards.

Example:
    >>> labels = np.array([0, 1, 0, 1])
    >>> params = draw_params(4, labels, level=0.3, rng=np.random.default_rng(0))
    >>> images, masks, lungs = render_chunk(np.arange(4), 64, params, np.random.default_rng(1))
"""
from __future__ import annotations

import cv2
import numpy as np

_SHIFT = 4  # fixed-point bits for sub-pixel OpenCV drawing

# Canonical anatomy in image units: origin at the image centre, x to the image
# right (the patient's left on a PA film), y down, 1.0 = image size.
_TORSO = np.array([
    (-0.085, -0.70), (-0.09, -0.47), (-0.16, -0.41), (-0.30, -0.385), (-0.42, -0.35),
    (-0.48, -0.27), (-0.49, -0.10), (-0.48, 0.15), (-0.46, 0.45), (-0.46, 0.75),
    (0.46, 0.75), (0.46, 0.45), (0.48, 0.15), (0.49, -0.10), (0.48, -0.27),
    (0.42, -0.35), (0.30, -0.385), (0.16, -0.41), (0.09, -0.47), (0.085, -0.70),
])
# Right lung (image left), clockwise from the apex; the left lung mirrors it
# with a lower diaphragm dome.
_LUNG = np.array([
    (-0.15, -0.37), (-0.25, -0.33), (-0.33, -0.23), (-0.375, -0.09), (-0.395, 0.06),
    (-0.40, 0.19), (-0.395, 0.245), (-0.35, 0.215), (-0.26, 0.165), (-0.16, 0.15),
    (-0.085, 0.165), (-0.055, 0.10), (-0.055, 0.0), (-0.065, -0.13), (-0.085, -0.27),
    (-0.11, -0.345),
])
_LEFT_LUNG_DROP = 0.03


def draw_params(n: int, labels: np.ndarray, level: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every per-image random number except the noise fields, drawn up front."""
    u = lambda lo, hi, shape=(n,): rng.uniform(lo, hi, shape)  # noqa: E731
    pneumonia = labels == 1
    max_lesions = int(round(4 - 2 * level))
    return {
        "angle": u(-6, 6), "scale": u(0.84, 1.0), "aspect": u(0.9, 1.1), "shift": u(-0.05, 0.05, (n, 2)),
        "lung_jitter": rng.normal(0, 0.008, (n, 2, len(_LUNG), 2)),
        "torso_jitter": rng.normal(0, 0.01, (n, len(_TORSO), 2)),
        "heart_size": u(0.9, 1.15), "heart_shift": u(-0.02, 0.02, (n, 2)), "dome": u(-0.03, 0.03, (n, 2)),
        "rib_spacing": u(0.058, 0.068), "rib_start": u(-0.35, -0.31), "rib_slope": u(0.6, 1.2),
        "air": u(0.7, 0.85), "mu": u(0.7, 1.1), "bone": u(0.8, 1.2),
        "black": u(0.0, 0.1), "white": u(0.8, 1.0), "gamma": u(0.75, 1.3), "heel": u(-0.12, 0.12),
        "noise": u(0.012, 0.035), "breast": np.where(rng.random(n) < 0.4, u(0.08, 0.2), 0.0),
        "n_lesions": np.where(pneumonia, rng.integers(1, max_lesions + 1, n), 0),
        "lesion_amp": u(0.8, 1.25) * (0.55 - 0.4 * level), "lesion_radius": u(0.8, 1.25) * (0.085 - 0.05 * level),
        "marker_xy": u(0.03, 0.08, (n, 2)),
    }


def render_chunk(
    idx: np.ndarray, size: int, params: dict[str, np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render images ``idx``: per-image OpenCV drawing, vectorised exposure and noise."""
    m = len(idx)
    atten = np.empty((m, size, size), np.float32)
    masks = np.empty((m, size, size), bool)
    lungs = np.empty((m, size, size), bool)
    texture = _smooth_noise(rng, m, size, cells=14)
    mottle = _smooth_noise(rng, m, size, cells=max(8, size // 7))
    for j, i in enumerate(idx):
        p = {k: v[i] for k, v in params.items()}
        atten[j], masks[j], lungs[j] = _render_one(size, p, texture[j], mottle[j], rng)
    linear = 1.0 - np.exp(-_col(params["mu"][idx]) * atten)
    step = max(1, size // 64)
    linear /= np.percentile(linear[:, ::step, ::step].reshape(m, -1), 99.5, axis=1)[:, None, None] + 1e-6
    black, white = _col(params["black"][idx]), _col(params["white"][idx])
    image = black + (white - black) * np.exp(_col(params["gamma"][idx]) * np.log(np.clip(linear, 1e-4, 1.0)))
    rows = np.linspace(-0.5, 0.5, size, dtype=np.float32)[None, :, None]
    image *= 1.0 + _col(params["heel"][idx]) * rows
    image += _col(params["noise"][idx]) * np.sqrt(np.clip(image, 0.02, 1.0)) * rng.standard_normal(
        image.shape, dtype=np.float32
    )
    images = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return images, masks, lungs


def _render_one(
    size: int, p: dict[str, np.ndarray], texture: np.ndarray, mottle: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attenuation map (lesions included), lesion mask and lung-field mask of one patient."""
    to_px = _pose(size, p)
    px = lambda sigma: max(sigma * size * p["scale"], 0.5)  # noqa: E731

    body = _fill(size, [to_px(_TORSO + p["torso_jitter"])])
    soft = np.sqrt(np.clip(cv2.distanceTransform(body, cv2.DIST_L2, 3) / px(0.12), 0.0, 1.0))

    lung_poly = _fill(size, [to_px(shape) for shape in _lung_shapes(p)])
    heart_poly = _heart(size, p, to_px)
    lung_field = (lung_poly > 0) & (heart_poly == 0)
    air = _blur(lung_poly.astype(np.float32) / 255.0, px(0.012))
    air *= 0.75 + 0.25 * np.clip(cv2.distanceTransform(lung_poly, cv2.DIST_L2, 3) / px(0.06), 0.0, 1.0)
    heart = _blur(heart_poly.astype(np.float32) / 255.0, px(0.015))
    air *= 1.0 - 0.8 * heart

    outside = cv2.distanceTransform(np.where(lung_poly > 0, 0, 255).astype(np.uint8), cv2.DIST_L2, 3)
    cage = np.clip(1.0 - outside / px(0.08), 0.0, 1.0)
    fine = p["bone"] * cage * _ribs(size, p, to_px) + p["bone"] * _clavicles(size, to_px) + _spine(size, to_px)
    fine += 0.2 * (lung_poly.astype(np.float32) / 255.0) * _vessels(size, to_px, rng)
    atten = soft - p["air"] * air + 0.3 * heart + _blur(fine, px(0.004)) + 0.06 * texture * air
    if p["breast"] > 0:
        breasts = _fill(size, [to_px(_breast(side)) for side in (-1, 1)])
        atten += p["breast"] * _blur(breasts.astype(np.float32) / 255.0, px(0.04))
    lesion, mask = _lesions(size, p, lung_field, mottle, px, rng)
    return np.clip(atten + lesion, 0.0, None), mask, lung_field


def _pose(size: int, p: dict[str, np.ndarray]):
    """A function mapping canonical (x, y) points, shape (..., 2), to this patient's pixel coordinates."""
    theta = np.deg2rad(p["angle"])
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    stretch = np.array([p["aspect"], 1.0])

    def to_px(points: np.ndarray) -> np.ndarray:
        placed = (points * stretch) @ rot.T * p["scale"] + p["shift"]
        return (placed + 0.5) * size

    return to_px


def _lung_shapes(p: dict[str, np.ndarray]) -> list[np.ndarray]:
    right = _LUNG + p["lung_jitter"][0]
    left = _LUNG * np.array([-1.0, 1.0]) + p["lung_jitter"][1]
    base = np.clip((_LUNG[:, 1] - 0.05) / 0.2, 0.0, 1.0)  # how much each point belongs to the dome
    right[:, 1] += base * p["dome"][0]
    left[:, 1] += base * (_LEFT_LUNG_DROP + p["dome"][1])
    return [_smooth_closed(right), _smooth_closed(left)]


def _heart(size: int, p: dict[str, np.ndarray], to_px) -> np.ndarray:
    """Heart (a tilted ellipse bulging to the patient's left) and aortic knob, as a filled mask."""
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    scale = p["heart_size"]
    cx, cy = 0.05 + p["heart_shift"][0], 0.12 + p["heart_shift"][1]
    heart = np.stack([0.17 * scale * np.cos(t), 0.12 * scale * np.sin(t)], axis=1)
    tilt = np.deg2rad(-18)
    heart = heart @ np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]]).T + (cx, cy)
    knob = np.stack([0.045 + 0.035 * np.cos(t), -0.11 + 0.03 * np.sin(t)], axis=1)
    return _fill(size, [to_px(heart), to_px(knob)])


def _spine(size: int, to_px) -> np.ndarray:
    """Vertebral column: a faint band with denser vertebral bodies between the disc spaces."""
    canvas = np.zeros((size, size), np.float32)
    column = np.array([(-0.034, -0.7), (0.034, -0.7), (0.034, 0.7), (-0.034, 0.7)])
    cv2.fillPoly(canvas, [_fixed(to_px(column))], 0.11, cv2.LINE_AA, _SHIFT)
    tops = np.arange(-0.5, 0.6, 0.056)[:, None, None]
    bodies = np.array([(-0.03, 0.0), (0.03, 0.0), (0.032, 0.045), (-0.032, 0.045)]) + np.concatenate(
        [np.zeros_like(tops), tops], axis=2)
    cv2.fillPoly(canvas, list(_fixed(to_px(bodies))), 0.2, cv2.LINE_AA, _SHIFT)
    return canvas


def _ribs(size: int, p: dict[str, np.ndarray], to_px) -> np.ndarray:
    """Posterior ribs (arching out from the spine, bright cortex) and faint anterior ribs (sloping to the sternum)."""
    u = np.linspace(0.0, 1.0, 24)
    k = np.arange(10)[:, None, None]
    side = np.array([-1.0, 1.0])[None, :, None]
    y0 = p["rib_start"] + k * p["rib_spacing"] * (1 + 0.03 * k)
    posterior = np.stack(np.broadcast_arrays(
        side * (0.04 + 0.41 * u), y0 - 0.045 * np.sin(np.pi * u * 0.9) + p["rib_slope"] * 0.07 * u**2), axis=-1)
    anterior = np.stack(np.broadcast_arrays(
        side * (0.42 - 0.3 * u), y0 + 0.06 + 0.02 * k + 0.10 * u**1.5), axis=-1)
    posterior, anterior = (_fixed(to_px(curves)).reshape(-1, len(u), 2) for curves in (posterior, anterior))
    wide, thin = max(1, int(round(0.026 * size))), max(1, int(round(0.012 * size)))
    canvas = np.zeros((size, size), np.float32)
    cv2.polylines(canvas, list(posterior), False, 0.22, wide, cv2.LINE_AA, _SHIFT)
    cv2.polylines(canvas, list(posterior), False, -0.07, thin, cv2.LINE_AA, _SHIFT)
    cv2.polylines(canvas, list(anterior), False, 0.07, wide, cv2.LINE_AA, _SHIFT)
    return canvas


def _clavicles(size: int, to_px) -> np.ndarray:
    u = np.linspace(0.0, 1.0, 20)
    side = np.array([-1.0, 1.0])[:, None]
    lines = np.stack(np.broadcast_arrays(side * (0.05 + 0.27 * u), -0.335 - 0.06 * u + 0.02 * np.sin(np.pi * u)),
                     axis=-1)
    canvas = np.zeros((size, size), np.float32)
    cv2.polylines(canvas, list(_fixed(to_px(lines))), False, 0.25, max(1, int(round(0.024 * size))), cv2.LINE_AA,
                  _SHIFT)
    return canvas


def _vessels(size: int, to_px, rng: np.random.Generator) -> np.ndarray:
    """Vessel markings: random walks fanning out from both hila, thinning to the periphery."""
    n = 9
    side = np.repeat([-1.0, 1.0], n)
    angles = np.deg2rad(rng.uniform(-75, 95, 2 * n))[:, None] + rng.normal(0, 0.18, (2 * n, 6))
    steps = rng.uniform(0.025, 0.04, (2 * n, 6))[..., None] * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    steps[..., 0] *= side[:, None]
    start = np.stack([side * 0.1, np.full(2 * n, -0.02)], axis=-1)[:, None] + rng.normal(0, 0.015, (2 * n, 1, 2))
    paths = to_px(np.concatenate([start, start + np.cumsum(steps, axis=1)], axis=1))
    thick = max(1, int(round(0.012 * size)))
    canvas = np.zeros((size, size), np.float32)
    cv2.polylines(canvas, list(_fixed(paths[:, :4])), False, 1.0, thick, cv2.LINE_AA, _SHIFT)
    cv2.polylines(canvas, list(_fixed(paths[:, 3:])), False, 0.6, max(1, thick // 2), cv2.LINE_AA, _SHIFT)
    return canvas


def _breast(side: int) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    return np.stack([side * 0.3 + 0.17 * np.cos(t), 0.27 + 0.12 * np.sin(t)], axis=1)


def _lesions(
    size: int, p: dict[str, np.ndarray], lung_field: np.ndarray, mottle: np.ndarray, px, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Patchy opacities (clusters of blurred blobs, mottled, inside the lung fields) and their mask.

    The mask is where the blurred cluster envelope exceeds 0.3 of its peak,
    inside the lung field. Each cluster's first blob sits on a lung pixel at
    least half a lesion radius from the edge, so a pneumonia mask is never empty.
    """
    envelope = np.zeros((size, size), np.float32)
    if p["n_lesions"] == 0:
        return envelope, np.zeros((size, size), bool)
    radius = p["lesion_radius"] * size * p["scale"]
    inside = cv2.distanceTransform(lung_field.astype(np.uint8), cv2.DIST_L2, 3)
    candidates = np.flatnonzero(inside > 0.5 * radius)
    if candidates.size == 0:
        candidates = np.flatnonzero(lung_field)
    for _ in range(p["n_lesions"]):
        cy, cx = divmod(int(rng.choice(candidates)), size)
        n_blobs = int(rng.integers(4, 9))
        offsets = rng.normal(0, 0.55 * radius, (n_blobs, 2))
        offsets[0] = 0.0
        radii = rng.uniform(0.35, 0.75, n_blobs) * radius
        for (dx, dy), r in zip(offsets, radii):
            centre = (int(round((cx + dx) * (1 << _SHIFT))), int(round((cy + dy) * (1 << _SHIFT))))
            cv2.circle(envelope, centre, int(round(r * (1 << _SHIFT))), 1.0, -1, cv2.LINE_AA, _SHIFT)
    envelope = _blur(np.minimum(envelope, 1.0), max(0.5, 0.35 * radius))
    mask = (envelope > 0.3) & lung_field
    patchy = envelope * np.clip(0.6 + 0.5 * mottle, 0.2, 1.0)
    return p["lesion_amp"] * patchy * _blur(lung_field.astype(np.float32), px(0.008)), mask


def _smooth_noise(rng: np.random.Generator, m: int, size: int, cells: int) -> np.ndarray:
    """Smooth random fields, roughly unit variance, one per image."""
    coarse = rng.standard_normal((m, cells, cells), dtype=np.float32)
    out = np.empty((m, size, size), np.float32)
    for j in range(m):
        out[j] = cv2.resize(coarse[j], (size, size), interpolation=cv2.INTER_CUBIC)
    return out


def _smooth_closed(points: np.ndarray, per_segment: int = 6) -> np.ndarray:
    """Closed Catmull-Rom curve through ``points``."""
    p0, p1, p2, p3 = (np.roll(points, s, axis=0) for s in (1, 0, -1, -2))
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None, None]
    curve = 0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                   + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
    return curve.transpose(1, 0, 2).reshape(-1, 2)


def _fill(size: int, polygons: list[np.ndarray]) -> np.ndarray:
    canvas = np.zeros((size, size), np.uint8)
    cv2.fillPoly(canvas, [_fixed(poly) for poly in polygons], 255, cv2.LINE_AA, _SHIFT)
    return canvas


def _fixed(points: np.ndarray) -> np.ndarray:
    """Pixel coordinates ``(..., K, 2)`` as OpenCV's fixed-point int32 polygons."""
    return np.round(points * (1 << _SHIFT)).astype(np.int32)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones run on a shrunken copy (same look, a fraction of the time)."""
    factor = int(sigma // 2)
    if factor < 2:
        return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REPLICATE)
    h, w = image.shape
    small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _col(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32)[:, None, None]
def letter_stamp(letter: str, size: int) -> np.ndarray:
    """A side-marker stamp: a bright letter (1.0) on a dark tag (0.0), about 10% of the image high."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = 0.1 * size / 22.0
    thickness = max(1, int(round(size / 80)))
    (w, h), _ = cv2.getTextSize(letter, font, scale, thickness)
    pad = thickness + 1
    stamp = np.zeros((h + 2 * pad, w + 2 * pad), np.uint8)
    cv2.putText(stamp, letter, (pad, pad + h), font, scale, 255, thickness, cv2.LINE_AA)
    return stamp.astype(np.float32) / 255.0


def burn_marker(image: np.ndarray, stamp: np.ndarray, corner_xy: np.ndarray) -> None:
    """Burn ``stamp`` in at ``corner_xy`` (fractions of the size): dark tag, white letter, whatever lies below."""
    size = image.shape[0]
    x, y = (corner_xy * size).astype(int)
    h, w = stamp.shape
    tag = np.clip(stamp[: size - y, : size - x], 0.0, 1.0)
    image[y: y + h, x: x + w] = np.round(25.0 + 220.0 * tag).astype(np.uint8)
