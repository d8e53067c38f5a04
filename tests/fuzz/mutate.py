"""Seeded mutations of valid encodings, and random bytes.

Every function takes a random.Random, so a campaign is reproducible from its seed. The
mutations are those of a byte-level fuzzer (bit flips, inserted, deleted and duplicated
ranges, truncation, splicing two inputs, interesting integers) plus a few that know what
the bytes are likely to be: numbers in text (10^309, NaN, Infinity, 5,000 digits, digits
that are not ASCII), deep nesting of JSON and CBOR, CBOR and TLV heads that declare huge
lengths, non-ASCII text.
"""

from __future__ import annotations

import random
import re
import struct
from collections.abc import Callable, Sequence

# Integers at the edges of every width, in both byte orders once packed.
INTERESTING_INTS = (
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x10000,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    0x7FFFFFFFFFFFFFFF,
    0x8000000000000000,
    0xFFFFFFFFFFFFFFFF,
)
# Text that breaks number parsers and type checks where a number, a name or base64 belongs.
NASTY_TOKENS = (
    b"1e309",
    b"-1e309",
    b"1E400",
    b"NaN",
    b"-NaN",
    b"Infinity",
    b"-Infinity",
    b"-0",
    b"-0.0",
    b"0.0000000000000000000000000000001",
    b"1" + b"0" * 400,
    b"9" * 5000,
    b"-" + b"9" * 4301,
    b"18446744073709551616",
    b"-9223372036854775809",
    b"9223372036854775808",
    b"4294967296",
    b"65535",
    b"65536",
    b"-1",
    "²".encode(),
    "١٢".encode(),
    "３".encode(),
    "𝟘".encode(),
    "é".encode(),
    "\u202e".encode(),
    "\U0001f600".encode(),
    b"\xed\xa0\x80",  # a UTF-16 surrogate in UTF-8: invalid
    b"\xc0\x80",  # overlong NUL
    b"\x00",
    b"\\u0000",
    b"\\ud800",
    b'"',
    b"\\",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b'""',
    b"/",
    b"//",
    b"/65535/65535/65535/65535",
    b"/0/0/0/0/0",
    b"/-1",
    b"/3/0/9/",
    b"AQI=",
    b"====",
    b"\xff\xfe",
)
NASTY_JSON_VALUES = (
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "-Infinity",
    "1" + "0" * 400,
    "9" * 5000,
    "-0",
    "null",
    "true",
    "[]",
    "{}",
    '""',
    '"²:1"',
    '"é"',
    '"\\ud800"',
    '"\\u0000"',
    "18446744073709551616",
    "-9223372036854775809",
    '"' + "A" * 3000 + '"',
)
# CBOR heads: huge declared lengths, indefinite items never closed, bignums, odd floats and tags.
CBOR_HEADS = (
    b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff",  # byte string of 2^64 - 1 bytes
    b"\x7b\x7f\xff\xff\xff\xff\xff\xff\xff",  # text string of 2^63 - 1 bytes
    b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff",  # array of 2^64 - 1 items
    b"\xbb\x00\x00\x00\x01\x00\x00\x00\x00",  # map of 2^32 pairs
    b"\x9a\x7f\xff\xff\xff",  # array of 2^31 - 1 items
    b"\x5a\xff\xff\xff\xff",
    b"\x9f",  # indefinite array, no break
    b"\xbf",  # indefinite map, no break
    b"\x5f\x41\x00",  # indefinite byte string
    b"\x7f\x61\x61",  # indefinite text string
    b"\xff",  # break out of place
    b"\xc2\x59\x10\x00" + b"\xff" * 4096,  # bignum of 4096 bytes
    b"\xc3\x49\x01" + b"\x00" * 8,  # negative bignum 2^64
    b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff",  # unsigned 2^64 - 1
    b"\x3b\xff\xff\xff\xff\xff\xff\xff\xff",  # -2^64
    b"\xf9\x7e\x00",  # half float NaN
    b"\xf9\x7c\x00",  # half float infinity
    b"\xfb\x7f\xf0\x00\x00\x00\x00\x00\x00",  # double infinity
    b"\xfb\x7f\xf8\x00\x00\x00\x00\x00\x01",  # double NaN with payload
    b"\xfa\x7f\x80\x00\x00",  # single infinity
    b"\xf7",  # undefined
    b"\xf8\x20",  # simple value 32
    b"\xc1\xfb\x7f\xf0\x00\x00\x00\x00\x00\x00",  # epoch time = infinity
    b"\xc0\x60",  # datetime string tag with an empty string
    b"\xc1\x1b\xff\xff\xff\xff\xff\xff\xff\xff",  # epoch time 2^64 - 1
    b"\xd8\x1c\x01",  # shareable
    b"\xd8\x1d\x00",  # shared reference 0
    b"\xd9\xd9\xf7",  # self-described CBOR tag
    b"\xd8\x18\x45\x81\x81\x81\x81\x80",  # embedded CBOR
    b"\xc4\x82\x21\x19\x6a\xb3",  # decimal fraction
    b"\xc5\x82\x3b\x7f\xff\xff\xff\xff\xff\xff\xff\x01",  # bigfloat with a huge exponent
    b"\xd8\x1e\x82\x01\x00",  # rational 1/0
    b"\xd9\x01\x02\x80",  # tag 258 (set) of an array
    b"\xd8\x25\x50" + b"\x00" * 16,  # UUID
    b"\xd8\x23\x61\x28",  # regex "("
    b"\xd8\x24\x60",  # MIME
    b"\xd8\x20\x60",  # URI
    b"\xd9\x01\x04\x82\x01\x00",  # IP address
    b"\xd8\x19\x00",  # string reference
    b"\xd9\x01\x00\x80",  # string reference namespace
)


def random_bytes(rng: random.Random, max_len: int = 300) -> bytes:
    """Random bytes of a random length, mostly short."""
    length = min(max_len, int(rng.expovariate(1 / 40))) if rng.random() < 0.9 else rng.randint(0, max_len)
    return rng.randbytes(length)


def _span(rng: random.Random, size: int) -> tuple[int, int]:
    """A random range [start, end) of a buffer of size bytes, mostly short."""
    if size == 0:
        return 0, 0
    start = rng.randrange(size)
    length = min(size - start, 1 + int(rng.expovariate(1 / 4)))
    return start, start + length


def _flip_bit(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    if buf:
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)


def _set_byte(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    if buf:
        buf[rng.randrange(len(buf))] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFF, 0x20, 0x2F, rng.randrange(256)))


def _insert(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    pos = rng.randint(0, len(buf))
    buf[pos:pos] = rng.randbytes(1 + int(rng.expovariate(1 / 3)))


def _delete(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    start, end = _span(rng, len(buf))
    del buf[start:end]


def _duplicate(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    start, end = _span(rng, len(buf))
    piece = bytes(buf[start:end]) * rng.choice((1, 1, 2, 8, 64))
    pos = rng.randint(0, len(buf))
    buf[pos:pos] = piece


def _truncate(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    if buf:
        del buf[rng.randrange(len(buf)) :]


def _splice(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    if not pool:
        return
    other = rng.choice(pool)
    cut = rng.randint(0, len(buf))
    other_cut = rng.randint(0, len(other))
    buf[cut:] = other[other_cut:] if rng.random() < 0.5 else other[:other_cut]


def _interesting_int(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    number = rng.choice(INTERESTING_INTS)
    width = rng.choice((1, 2, 4, 8))
    packed = (number & ((1 << (8 * width)) - 1)).to_bytes(width, rng.choice(("big", "little")))
    pos = rng.randint(0, len(buf))
    if rng.random() < 0.5:
        buf[pos : pos + width] = packed  # overwrite
    else:
        buf[pos:pos] = packed


_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_TEXT_TOKEN = re.compile(rb'"[^"\\]{0,40}"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null')


def _nasty_token(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    """Replace a number (or a JSON scalar) of textual input by a nasty one, or insert one."""
    matches = list((_NUMBER if rng.random() < 0.5 else _TEXT_TOKEN).finditer(bytes(buf)))
    token = rng.choice(NASTY_TOKENS)
    if matches:
        found = rng.choice(matches)
        quoted = found.group().startswith(b'"')
        replacement = b'"' + token + b'"' if quoted and rng.random() < 0.5 else token
        buf[found.start() : found.end()] = replacement
    else:
        pos = rng.randint(0, len(buf))
        buf[pos:pos] = token


def _nasty_json_value(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    """Replace the value after a JSON key by NaN, Infinity, 10^309, a huge integer..."""
    keys = [m.end() for m in re.finditer(rb'"\s*:\s*', bytes(buf))]
    if not keys:
        return
    start = rng.choice(keys)
    found = _TEXT_TOKEN.match(bytes(buf), start)
    end = found.end() if found else start
    buf[start:end] = rng.choice(NASTY_JSON_VALUES).encode()


def _deep_nesting(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    """Wrap the input (or a piece of it) in thousands of arrays/maps, JSON or CBOR."""
    depth = rng.choice((64, 1000, 5000, 100_000))
    kind = rng.randrange(5)
    if kind == 0:
        buf[:] = b"[" * depth + bytes(buf) + b"]" * depth
    elif kind == 1:
        buf[:] = b'{"e":' * depth + bytes(buf) + b"}" * depth
    elif kind == 2:
        buf[:] = b"\x81" * depth + bytes(buf)  # CBOR arrays of one item
    elif kind == 3:
        buf[:] = b"\xa1\x00" * depth + bytes(buf)  # CBOR maps {0: ...}
    else:
        buf[:] = b"\xc1" * depth + bytes(buf)  # CBOR tags around a value
    if rng.random() < 0.3:
        del buf[rng.randrange(len(buf) + 1) :]  # and cut somewhere


def _cbor_head(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    """Insert (or overwrite with) a CBOR item of a huge length, an odd float, an unusual tag."""
    head = rng.choice(CBOR_HEADS)
    pos = rng.randint(0, len(buf))
    if rng.random() < 0.5:
        buf[pos : pos + len(head)] = head
    else:
        buf[pos:pos] = head


def _tlv_head(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    """Insert a TLV header of any kind, 16-bit id, that declares a 24-bit (or other) length."""
    kind = rng.randrange(4) << 6
    length_type = rng.randrange(4)
    header = bytes([kind | 0x20 | (length_type << 3) | rng.randrange(8)]) + rng.randbytes(2)
    header += (0xFFFFFF if rng.random() < 0.5 else rng.randrange(1 << 24)).to_bytes(3, "big")[3 - length_type :]
    pos = rng.randint(0, len(buf))
    buf[pos:pos] = header


def _non_ascii(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    piece = rng.choice(("é", "²", "٣", "\u0000", "\ufeff", "\U0001f600", "\u200b", "ß")).encode()
    if rng.random() < 0.2:
        piece = rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"))  # invalid UTF-8
    pos = rng.randint(0, len(buf))
    buf[pos:pos] = piece


def _huge_repeat(rng: random.Random, buf: bytearray, pool: Sequence[bytes]) -> None:
    """Repeat the input until it is tens of kilobytes (many records, long values)."""
    if buf:
        times = max(1, rng.choice((2000, 20_000, 64_000)) // len(buf))
        buf[:] = bytes(buf) * times


Mutation = Callable[[random.Random, bytearray, Sequence[bytes]], None]
# (mutation, weight): the byte-level ones are the common case.
MUTATIONS: tuple[tuple[Mutation, int], ...] = (
    (_flip_bit, 10),
    (_set_byte, 8),
    (_insert, 6),
    (_delete, 6),
    (_duplicate, 4),
    (_truncate, 5),
    (_splice, 4),
    (_interesting_int, 6),
    (_nasty_token, 8),
    (_nasty_json_value, 5),
    (_deep_nesting, 1),
    (_cbor_head, 4),
    (_tlv_head, 3),
    (_non_ascii, 4),
    (_huge_repeat, 1),
)
_FUNCS = [m for m, _ in MUTATIONS]
_WEIGHTS = [w for _, w in MUTATIONS]


def mutate(rng: random.Random, data: bytes, pool: Sequence[bytes] = (), max_len: int = 1 << 20) -> bytes:
    """Apply one to a few mutations to data; the result stays under max_len bytes."""
    buf = bytearray(data)
    count = 1 if rng.random() < 0.5 else rng.randint(2, 6)
    for mutation in rng.choices(_FUNCS, _WEIGHTS, k=count):
        mutation(rng, buf, pool)
        if len(buf) > max_len:
            del buf[max_len:]
    return bytes(buf)


def pack_be(number: int, width: int) -> bytes:
    """number as width big-endian bytes (for headers built by hand)."""
    return struct.pack({1: ">B", 2: ">H", 4: ">I", 8: ">Q"}[width], number)
