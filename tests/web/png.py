"""Reads the pixels of a PNG (8-bit gray, RGB, gray+alpha or RGBA, not interlaced: what sdc
and Chromium's canvas write) with the standard library, for the browser tests."""
import struct
import zlib

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _unfilter(raw, width, height, bpp):
    stride = width * bpp
    rows, prev, pos = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
            line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        prev = line
    return rows


def read(data):
    """(width, height, rows of [(r, g, b, a)...]) of a PNG's bytes."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, head = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
    width, height, depth, color, _, _, interlace = head
    if depth != 8 or interlace or color not in CHANNELS:
        raise ValueError(f"unsupported PNG (depth {depth}, color {color}, interlace {interlace})")
    n = CHANNELS[color]
    out = []
    for line in _unfilter(zlib.decompress(idat), width, height, n):
        px = [tuple(line[i:i + n]) for i in range(0, len(line), n)]
        if n == 1:
            px = [(g, g, g, 255) for (g,) in px]
        elif n == 2:
            px = [(g, g, g, a) for g, a in px]
        elif n == 3:
            px = [p + (255,) for p in px]
        out.append(px)
    return width, height, out
