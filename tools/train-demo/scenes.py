"""Procedural captioned scenes: flat-coloured shapes on a flat background, 64x64 pixels.

A scene is a dict: colour, shape, size, position (single object) or count (2 small objects
side by side, or 3 in a triangle), and background. Captions name the attributes in a fixed
word order; training captions leave some attributes out at random so that short prompts
("a red circle") work too.

Some colour/shape pairs are held out: no training image shows them, and the end-to-end
test prompts use exactly those pairs (tests/demo/).
"""
import math

import numpy as np

SIZE = 64  # pixels per side

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 210, 40),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "purple": (150, 60, 200),
}
SHAPES = ["circle", "square", "triangle", "star"]
SIZES = {"small": 20, "large": 28}  # bounding-box side in pixels
POSITIONS = {
    "top left": (16, 16),
    "top right": (48, 16),
    "bottom left": (16, 48),
    "bottom right": (48, 48),
    "center": (32, 32),
}
# Where the objects of a multi-object scene sit: one fixed arrangement per count, so that a
# count means one picture layout rather than several.
GROUPS = {2: [(16, 32), (48, 32)], 3: [(16, 16), (48, 16), (32, 48)]}
COUNT_WORDS = {2: "two", 3: "three"}
JITTER = 1        # pixels of random offset of an object's centre
SIZE_JITTER = 1   # pixels of random change of its extent
STAR_INNER = 0.38  # inner / outer radius of the five-pointed star
SUPERSAMPLE = 4

# (colour, shape) pairs never drawn in training: one per colour, every shape at least once.
HELD_OUT = {("red", "star"), ("green", "triangle"), ("blue", "circle"), ("yellow", "square"),
            ("white", "star"), ("black", "triangle"), ("purple", "circle")}

WORDS = (["a", "in", "the", "on", "background", "top", "bottom", "left", "right", "center"]
         + list(SIZES) + list(COLOURS) + SHAPES + [s + "s" for s in SHAPES]
         + list(COUNT_WORDS.values()))


# ---- captions -------------------------------------------------------------------------

def caption(scene, keep=("size", "position", "background")):
    """The caption of a scene naming the attributes in `keep` (colour and shape always)."""
    bg = f" on a {scene['background']} background" if "background" in keep else ""
    if scene["count"] > 1:
        size = " small" if "size" in keep else ""
        return f"{COUNT_WORDS[scene['count']]}{size} {scene['colour']} {scene['shape']}s{bg}"
    size = f" {scene['size']}" if "size" in keep else ""
    pos = f" in the {scene['position']}" if "position" in keep else ""
    return f"a{size} {scene['colour']} {scene['shape']}{pos}{bg}"


def training_keep(rng):
    """The optional attributes a training caption names: each dropped with probability 1/4."""
    return [k for k in ("size", "position", "background") if rng.random() >= 0.25]


# ---- sampling scenes ------------------------------------------------------------------

def random_scene(rng, held_out):
    """A random scene; held_out=False avoids the held-out pairs, True uses only them."""
    while True:
        colour = rng.choice(list(COLOURS))
        shape = rng.choice(SHAPES)
        if ((colour, shape) in HELD_OUT) == held_out:
            break
    background = rng.choice([c for c in COLOURS if c != colour])
    r = rng.random()
    count = 1 if r < 0.7 else 2 if r < 0.85 else 3
    scene = {"colour": colour, "shape": shape, "background": background, "count": count}
    if count == 1:
        scene["size"] = rng.choice(list(SIZES))
        scene["position"] = rng.choice(list(POSITIONS))
    else:
        scene["size"] = "small"
    return scene


def layout(scene, rng):
    """[(cx, cy, extent)] of the scene's objects, with jitter."""
    centres = ([POSITIONS[scene["position"]]] if scene["count"] == 1
               else GROUPS[scene["count"]])
    base = SIZES[scene["size"]]
    return [(cx + rng.integers(-JITTER, JITTER + 1), cy + rng.integers(-JITTER, JITTER + 1),
             base + rng.integers(-SIZE_JITTER, SIZE_JITTER + 1)) for cx, cy in centres]


# ---- rendering ------------------------------------------------------------------------

def _grid():
    n = SIZE * SUPERSAMPLE
    c = (np.arange(n) + 0.5) / SUPERSAMPLE
    return np.meshgrid(c, c)  # x, y in pixel units


_X, _Y = _grid()


def _inside_polygon(x, y, pts):
    """Even-odd rule for the points (x, y) and polygon pts [(px, py)]."""
    inside = np.zeros(x.shape, bool)
    n = len(pts)
    for i in range(n):
        (x1, y1), (x2, y2) = pts[i], pts[(i + 1) % n]
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < xc)
    return inside


def shape_mask(shape, cx, cy, e):
    """Boolean supersampled mask of one shape whose bounding box is e x e around (cx, cy)."""
    x, y, h = _X, _Y, e / 2
    if shape == "circle":
        return (x - cx) ** 2 + (y - cy) ** 2 <= h * h
    if shape == "square":
        return (abs(x - cx) <= h) & (abs(y - cy) <= h)
    if shape == "triangle":
        return _inside_polygon(x, y, [(cx, cy - h), (cx + h, cy + h), (cx - h, cy + h)])
    # star: outer radius R so the width is e; centred on its bounding box
    R = e / (2 * math.sin(math.radians(72)))
    oy = cy + R * (1 - math.cos(math.radians(36))) / 2
    pts = []
    for k in range(10):
        r = R if k % 2 == 0 else R * STAR_INNER
        a = math.radians(-90 + 36 * k)
        pts.append((cx + r * math.cos(a), oy + r * math.sin(a)))
    return _inside_polygon(x, y, pts)


def render(scene, objects):
    """uint8 [64, 64, 3] picture of the scene with the given object layout."""
    cover = np.zeros(_X.shape, bool)
    for cx, cy, e in objects:
        cover |= shape_mask(scene["shape"], cx, cy, e)
    s = SUPERSAMPLE
    alpha = cover.reshape(SIZE, s, SIZE, s).mean(axis=(1, 3))[..., None]
    fg = np.array(COLOURS[scene["colour"]], np.float64)
    bg = np.array(COLOURS[scene["background"]], np.float64)
    return np.round(bg * (1 - alpha) + fg * alpha).astype(np.uint8)


def dataset(n, seed, held_out=False):
    """n scenes with their pictures: (list of scene dicts, uint8 [n, 64, 64, 3])."""
    rng = np.random.default_rng(seed)
    scenes, pics = [], np.zeros((n, SIZE, SIZE, 3), np.uint8)
    for i in range(n):
        scene = random_scene(rng, held_out)
        pics[i] = render(scene, layout(scene, rng))
        scenes.append(scene)
    return scenes, pics
