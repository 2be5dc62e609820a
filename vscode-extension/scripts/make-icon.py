"""Draws the extension's icon, media/icon.png (128x128): a lens over a replay triangle.

Python's standard library only (zlib and struct write the PNG), 4x4 supersampling for smooth
edges, so the icon is reproducible from this file: `python3 scripts/make-icon.py`.
"""

import math
import struct
import zlib
from pathlib import Path

SIZE = 128
SAMPLES = 4
BACKGROUND = (31, 58, 95)  # deep blue
RING = (255, 255, 255)
PLAY = (115, 201, 145)  # the "ok" green of the report
HANDLE = (242, 184, 75)


def rounded_square(x: float, y: float) -> bool:
    r, lo, hi = 22.0, 4.0, SIZE - 4.0
    cx = min(max(x, lo + r), hi - r)
    cy = min(max(y, lo + r), hi - r)
    return lo <= x <= hi and lo <= y <= hi and (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def in_triangle(x: float, y: float) -> bool:
    # A play triangle centred in the lens.
    ax, ay, bx, by, cx, cy = 45.0, 36.0, 45.0, 80.0, 80.0, 58.0
    d1 = (x - bx) * (ay - by) - (ax - bx) * (y - by)
    d2 = (x - cx) * (by - cy) - (bx - cx) * (y - cy)
    d3 = (x - ax) * (cy - ay) - (cx - ax) * (y - ay)
    return not ((d1 < 0 or d2 < 0 or d3 < 0) and (d1 > 0 or d2 > 0 or d3 > 0))


def in_handle(x: float, y: float) -> bool:
    # A thick segment from the lens towards the lower right corner.
    ax, ay, bx, by, width = 88.0, 88.0, 112.0, 112.0, 9.0
    t = max(0.0, min(1.0, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)))
    px, py = ax + t * (bx - ax), ay + t * (by - ay)
    return (x - px) ** 2 + (y - py) ** 2 <= width * width


def colour(x: float, y: float) -> tuple[int, int, int, int]:
    if not rounded_square(x, y):
        return (0, 0, 0, 0)
    distance = math.hypot(x - 60.0, y - 58.0)
    if in_handle(x, y) and distance > 38:
        return (*HANDLE, 255)
    if 34.0 <= distance <= 43.0:
        return (*RING, 255)
    if in_triangle(x, y):
        return (*PLAY, 255)
    return (*BACKGROUND, 255)


def pixels() -> bytes:
    rows = bytearray()
    for py in range(SIZE):
        rows.append(0)  # filter type: none
        for px in range(SIZE):
            total = [0, 0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    r, g, b, a = colour(px + (sx + 0.5) / SAMPLES, py + (sy + 0.5) / SAMPLES)
                    total[0] += r * a
                    total[1] += g * a
                    total[2] += b * a
                    total[3] += a
            alpha = total[3] / (SAMPLES * SAMPLES)
            if total[3]:
                rows += bytes(round(c / total[3]) for c in total[:3]) + bytes([round(alpha)])
            else:
                rows += bytes(4)
    return bytes(rows)


def png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "media" / "icon.png"
    out.write_bytes(png(SIZE, SIZE, pixels()))
    print(out)
