#!/usr/bin/python3
"""Reference edges for tests/test_controlnet.c (canny_opencv::*): OpenCV's cv2.Canny on
photo-like test pictures. Run with Debian's python3-opencv (OpenCV 4.6.0) and numpy:

    /usr/bin/python3 tools/canny_reference.py tests/data/canny

It writes the pictures (made here from a fixed seed: shaded balls, soft shadows, a blurred
ramp, sensor noise) and, per picture and threshold pair, OpenCV's edges as
NAME.LOW-HIGH.png. The pictures are sdc's own; only the edges come from OpenCV."""
import os
import sys

import cv2
import numpy as np

THRESHOLDS = [(100, 200), (50, 150), (20, 60)]


def balls(w, h, rng):
    """Lit spheres on a graded floor, with noise: smooth gradients and near-ties."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    img += (0.25 + 0.5 * y / h)[..., None] * np.array([0.8, 0.7, 0.6])
    for _ in range(5):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(8, 30)
        colour = rng.uniform(0.2, 1.0, 3)
        d2 = ((x - cx) ** 2 + (y - cy) ** 2) / r**2
        shadow = np.exp(-((x - cx - r * 0.4) ** 2 + (y - cy - r) ** 2) / (0.6 * r) ** 2)
        img *= (1 - 0.5 * shadow)[..., None]
        inside = d2 < 1
        z = np.sqrt(np.clip(1 - d2, 0, 1))
        light = np.clip(0.2 + 0.8 * (z * 0.8 - (x - cx) / r * 0.3 - (y - cy) / r * 0.4), 0, 1)
        img[inside] = (light[..., None] * colour)[inside]
    img = cv2.GaussianBlur(img, (3, 3), 0.7)
    img += rng.normal(0, 0.02, img.shape)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def texture(w, h, rng):
    """Gray: blurred noise at two scales over a ramp, and a hard-edged square."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    coarse = cv2.resize(rng.uniform(0, 1, (h // 8, w // 8)), (w, h),
                        interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.uniform(0, 1, (h, w)), (5, 5), 1.2)
    img = 0.3 * x / w + 0.4 * coarse + 0.3 * fine
    img[h // 4:h // 2, w // 3:w // 3 + h // 4] = 0.9
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261206)
    pictures = {"balls": balls(128, 96, rng), "texture": texture(100, 80, rng)}
    for name, px in pictures.items():
        cv2.imwrite(os.path.join(out, name + ".png"), px)
        # Callers of cv2.Canny in the ControlNet world (AUTOMATIC1111's extension, diffusers'
        # examples) pass RGB arrays from PIL; cv2.imwrite stores px as BGR, so the picture
        # sdc reads is px with its channels reversed: that is what cv2.Canny gets. The order
        # matters where channels tie on |dx| + |dy| (the first one in memory wins).
        rgb = px[..., ::-1].copy() if px.ndim == 3 else px
        for low, high in THRESHOLDS:
            edges = cv2.Canny(rgb, low, high)
            cv2.imwrite(os.path.join(out, "%s.%d-%d.png" % (name, low, high)), edges)
    print("OpenCV", cv2.__version__)


if __name__ == "__main__":
    main()
