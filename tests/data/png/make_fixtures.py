#!/usr/bin/env python3
"""Writes the PNG fixtures of tests/nn/png_test.cpp with an encoder independent of soma's (this
file's, on Python's zlib): every color type and bit depth, all five filter types (row r uses
filter r % 5), Adam7 interlacing, IDAT split into several chunks, an ancillary chunk to skip,
and tRNS. Pixel values follow formulas that the test computes again:
  sample(x, y, k) = (7x + 13y + 29k + 3) mod 2^depth         (depth <= 8)
                    (7919x + 104729y + 3331k) mod 65536       (depth 16)
  palette index   = (3x + 5y) mod entries; entry i = (37i, 91i, 53i) mod 256, alpha 71i mod 256
Run it from this folder: python3 make_fixtures.py"""
import struct
import zlib

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def sample(x, y, k, depth):
    if depth == 16:
        return (7919 * x + 104729 * y + 3331 * k) % 65536
    return (7 * x + 13 * y + 29 * k + 3) % (1 << depth)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xffffffff)


def pack_row(values, depth):
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in values)
    if depth == 8:
        return bytes(values)
    out, acc, bits = bytearray(), 0, 0
    for v in values:
        acc = (acc << depth) | v
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(ftype, row, prev, bpp):
    out = bytearray()
    for i, v in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i] if prev else 0
        c = prev[i - bpp] if prev and i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ftype]
        out.append((v - pred) & 0xff)
    return bytes([ftype]) + bytes(out)


def write(name, width, height, depth, color, interlace=False, palette=None, trns=None):
    ch = CHANNELS[color]
    bpp = max(1, ch * depth // 8)

    def value(x, y, k):
        if color == 3:
            return (3 * x + 5 * y) % (len(palette) // 3)
        return sample(x, y, k, depth)

    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        xs, ys = list(range(x0, width, dx)), list(range(y0, height, dy))
        if not xs or not ys:
            continue
        prev = None
        for r, y in enumerate(ys):
            row = pack_row([value(x, y, k) for x in xs for k in range(ch)], depth)
            raw += filter_row(r % 5, row, prev, bpp)
            prev = row
    z = zlib.compress(bytes(raw), 9)
    third = max(1, len(z) // 3)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0,
                                      1 if interlace else 0))
    out += chunk(b"tEXt", b"Comment\x00a chunk that readers skip")
    if palette is not None:
        out += chunk(b"PLTE", bytes(palette))
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    for i in range(0, len(z), third):
        out += chunk(b"IDAT", z[i:i + third])
    out += chunk(b"IEND", b"")
    with open(name, "wb") as f:
        f.write(out)


def palette_of(n):
    return [v for i in range(n) for v in ((37 * i) % 256, (91 * i) % 256, (53 * i) % 256)]


def key16(values):
    return b"".join(struct.pack(">H", v) for v in values)


write("gray1.png", 13, 5, 1, 0)
write("gray2_adam7.png", 9, 7, 2, 0, interlace=True)
write("gray4_trns.png", 6, 4, 4, 0, trns=key16([sample(1, 1, 0, 4)]))
write("gray16_adam7.png", 10, 9, 16, 0, interlace=True)
write("rgb8.png", 11, 10, 8, 2)
write("rgb16_trns.png", 5, 6, 16, 2, trns=key16([sample(2, 3, k, 16) for k in range(3)]))
write("palette4_trns_adam7.png", 10, 6, 4, 3, interlace=True, palette=palette_of(12),
      trns=[(71 * i) % 256 for i in range(10)])
write("palette8.png", 7, 3, 8, 3, palette=palette_of(200))
write("gray_alpha8_adam7.png", 12, 11, 8, 4, interlace=True)
write("rgba16.png", 4, 7, 16, 6)
write("one_pixel_adam7.png", 1, 1, 8, 2, interlace=True)
