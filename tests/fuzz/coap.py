"""Valid CoAP datagrams a device sends an LwM2M server, and hostile variants of them.

Built with aiocoap's Message so that the valid ones are right to the byte: Register (POST
/rd?ep=..&lt=..&b=U with a link-format body), Update, De-register, Send (POST /dp), Block1
uploads of either, pings, ACK/RST, answers to the server's requests (piggybacked,
separate, with Observe) and notifications. The hostile variants stay well-formed CoAP but
carry odd queries, options and payloads; byte-level mutation (mutate.py) does the rest.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from aiocoap import ACK, CON, NON, RST, Message
from aiocoap.numbers.codes import Code
from aiocoap.optiontypes import BlockOption

from custom_components.lwm2m.lwm2m.codecs import ContentFormat, encode, encode_values
from custom_components.lwm2m.lwm2m.codecs.link_format import RegisteredObjects, format_registration
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.nodes import build_node
from custom_components.lwm2m.lwm2m.path import Path

from .corpus import MODEL, TYPES, random_value, random_values
from .mutate import random_bytes

MAX_DATAGRAM = 60_000
ENDPOINTS = 48  # the fuzzer's endpoint names come from a small pool: registrations replace each other
PAYLOAD_FORMATS = (
    ContentFormat.TEXT,
    ContentFormat.OPAQUE,
    ContentFormat.TLV,
    ContentFormat.LWM2M_JSON,
    ContentFormat.SENML_JSON,
    ContentFormat.SENML_CBOR,
    ContentFormat.LWM2M_CBOR,
)


def datagram(
    code: Code | int,
    *,
    mtype: int = CON,
    mid: int = 0,
    token: bytes = b"",
    path: Sequence[str] = (),
    query: Sequence[str] = (),
    payload: bytes = b"",
    content_format: int | None = None,
    block1: tuple[int, bool, int] | None = None,
    block2: tuple[int, bool, int] | None = None,
    observe: int | None = None,
    location: Sequence[str] = (),
    accept: int | None = None,
    size1: int | None = None,
) -> bytes:
    """One CoAP message, encoded."""
    message = Message(code=code, payload=payload)
    message.mtype, message.mid, message.token = mtype, mid & 0xFFFF, token
    if path:
        message.opt.uri_path = tuple(path)
    if query:
        message.opt.uri_query = tuple(query)
    if content_format is not None:
        message.opt.content_format = content_format
    if block1 is not None:
        message.opt.block1 = BlockOption.BlockwiseTuple(*block1)
    if block2 is not None:
        message.opt.block2 = BlockOption.BlockwiseTuple(*block2)
    if observe is not None:
        message.opt.observe = observe
    if location:
        message.opt.location_path = tuple(location)
    if accept is not None:
        message.opt.accept = accept
    if size1 is not None:
        message.opt.size1 = size1
    encoded: bytes = message.encode()
    return encoded


def token(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice((0, 1, 2, 4, 8, 8, 8)))


# -- what goes into a request ---------------------------------------------------------------------


def endpoint_name(rng: random.Random) -> str:
    """Mostly one of a small pool of names; sometimes a hostile one."""
    if rng.random() < 0.9:
        return f"fz-{rng.randrange(ENDPOINTS)}"
    return rng.choice(
        (
            "",
            "x" * 255,
            "x" * 256,
            "a/b",
            "a+#",
            " lead",
            "trail ",
            "ctl\x01\x7f",
            "é²😀",
            "\u202eevil",
            "fz-" + "9" * 200,
        )
    )


def registration_payload(rng: random.Random) -> bytes:
    instances = tuple(sorted({Path.of(rng.choice((1, 3, 3303, 3311, 40000)), rng.randint(0, 3)) for _ in range(4)}))
    objects = {p.ids[0]: rng.choice((None, None, "1.1", "2.0")) for p in instances}
    root = rng.choice(("/", "/", "/", "/lwm2m"))
    formats = rng.choice(((), (), (110,), (60, 110, 112, 11542)))
    return format_registration(RegisteredObjects(root, formats, objects, instances))


def register_query(rng: random.Random) -> list[str]:
    query = [f"ep={endpoint_name(rng)}", f"lt={rng.choice((30, 60, 300, 86400))}", "b=U"]
    if rng.random() < 0.5:
        query.append(f"lwm2m={rng.choice(('1.0', '1.1', '1.2'))}")
    if rng.random() < 0.15:
        query += rng.sample(
            [
                "lt=0",
                "lt=4294967296",
                "lt=²",
                "lt=" + "9" * 400,
                "b=UX",
                "b=",
                "Q=1",
                "Q",
                "lwm2m=9.9",
                "sms=" + "1" * 300,
                "ep=dup",
                "x" * 255,
                "=",
                "",
                "ep",
                "et=" + "é" * 100,
            ],
            rng.randint(1, 3),
        )
    return query


def send_payload(rng: random.Random) -> tuple[int, bytes]:
    """(content format, payload) of a valid Send."""
    fmt = rng.choice((ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR))
    _base, values = random_values(rng)
    try:
        return int(fmt), encode_values(fmt, values)
    except CodecError:
        return int(fmt), b"[]"


def payload_for(rng: random.Random, path: Path, accept: int | None) -> tuple[int, bytes]:
    """A valid answer to a Read of path: values below it, in the asked format or any."""
    fmt = accept if accept is not None and accept in PAYLOAD_FORMATS else rng.choice(PAYLOAD_FORMATS)
    if path.depth == 0:
        return int(fmt), b""
    ids = list(path.ids)
    while len(ids) < 3:
        ids.append(rng.randrange(4))
    values = {Path(tuple(ids)): random_value(rng, rng.choice(TYPES))}
    if path.depth < 3:
        for _ in range(rng.randint(0, 3)):
            extra = Path((*ids[:2], rng.randrange(10)))
            values.setdefault(extra, random_value(rng, rng.choice(TYPES)))
    try:
        node = build_node(path, values)
        return int(fmt), encode(fmt, node, path, MODEL)
    except CodecError:
        return int(ContentFormat.TEXT), b"0"


# -- messages -----------------------------------------------------------------------------------------


class DeviceMessages:
    """Valid (and hostile but well-formed) CoAP messages of a device, by kind."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.mid = rng.randrange(0x10000)

    def next_mid(self) -> int:
        self.mid = (self.mid + 1) & 0xFFFF
        return self.mid

    def register(self) -> bytes:
        rng = self.rng
        payload = registration_payload(rng) if rng.random() < 0.9 else random_bytes(rng)
        cf = ContentFormat.LINK_FORMAT if rng.random() < 0.9 else rng.choice((None, 0, 110, 11542, 65535))
        return datagram(
            Code.POST,
            mtype=CON if rng.random() < 0.9 else NON,
            mid=self.next_mid(),
            token=token(rng),
            path=("rd",),
            query=register_query(rng),
            payload=payload,
            content_format=cf,
        )

    def update(self, reg_id: str) -> bytes:
        rng = self.rng
        query = []
        if rng.random() < 0.5:
            query.append(f"lt={rng.choice((60, 300, 0, 4294967295))}")
        if rng.random() < 0.2:
            query.append(rng.choice(("b=UQ", "b=U", "ep=other", "Q", "sms=1")))
        payload = registration_payload(rng) if rng.random() < 0.3 else b""
        return datagram(
            Code.POST,
            mid=self.next_mid(),
            token=token(rng),
            path=("rd", reg_id),
            query=query,
            payload=payload,
            content_format=ContentFormat.LINK_FORMAT if payload else None,
        )

    def deregister(self, reg_id: str) -> bytes:
        return datagram(Code.DELETE, mid=self.next_mid(), token=token(self.rng), path=("rd", reg_id))

    def send(self) -> bytes:
        fmt, payload = send_payload(self.rng)
        return datagram(
            Code.POST, mid=self.next_mid(), token=token(self.rng), path=("dp",), payload=payload, content_format=fmt
        )

    def block1_upload(self) -> list[bytes]:
        """The blocks of a Register or Send upload: complete, unfinished, out of order, or odd."""
        rng = self.rng
        register = rng.random() < 0.5
        if register:
            body = registration_payload(rng) * rng.choice((1, 4, 20))
            path, query, cf = ("rd",), register_query(rng), int(ContentFormat.LINK_FORMAT)
        else:
            cf, body = send_payload(rng)
            body = body * rng.choice((1, 1, 8))
            path, query = ("dp",), []
        szx = rng.choice((0, 1, 2, 4, 6, 6, 7))
        size = 1 << (szx + 4) if szx < 7 else 1024
        if szx == 7:
            size *= rng.choice((1, 4))  # BERT: a multiple of 1024 (not for UDP)
        blocks = [body[i : i + size] for i in range(0, max(len(body), 1), size)]
        variant = rng.random()
        numbers = list(range(len(blocks)))
        more = [n < len(blocks) - 1 for n in numbers]
        if variant < 0.15:  # never finished: More on the last block too
            more[-1] = True
        elif variant < 0.25:
            rng.shuffle(numbers)
        elif variant < 0.3:
            numbers = [n + rng.choice((1, 1 << 19, (1 << 20) - 1)) for n in numbers]
        tok = token(rng)
        out = []
        for index, n in enumerate(numbers):
            num = n
            piece = blocks[min(index, len(blocks) - 1)]
            out.append(
                datagram(
                    Code.POST,
                    mid=self.next_mid(),
                    token=tok if rng.random() < 0.9 else token(rng),
                    path=path,
                    query=query,
                    payload=piece,
                    content_format=cf,
                    block1=(num, more[index], szx),
                    size1=len(body) if rng.random() < 0.3 else None,
                )
            )
        return out

    def endless_block1(self, blocks: int) -> list[bytes]:
        """A Register upload of blocks 1 KB blocks, every one with More set (never finished)."""
        tok = token(self.rng)
        query = [f"ep={endpoint_name(self.rng)}", "lt=60", "b=U"]
        piece = (b"</3/0>," * 200)[:1024]
        return [
            datagram(
                Code.POST,
                mid=self.next_mid(),
                token=tok,
                path=("rd",),
                query=query,
                payload=piece,
                content_format=int(ContentFormat.LINK_FORMAT),
                block1=(n, True, 6),
            )
            for n in range(blocks)
        ]

    def stray(self) -> bytes:
        """A ping, an ACK or RST for nothing, a response to no request, an odd request."""
        rng = self.rng
        kind = rng.randrange(8)
        if kind == 0:
            return datagram(Code.EMPTY, mid=self.next_mid())  # CoAP ping
        if kind == 1:
            return datagram(Code.EMPTY, mtype=rng.choice((ACK, RST)), mid=rng.randrange(0x10000))
        if kind == 2:
            return datagram(
                Code.CONTENT,
                mtype=rng.choice((CON, NON, ACK)),
                mid=self.next_mid(),
                token=token(rng),
                observe=rng.randrange(1 << 24),
                payload=b"1",
                content_format=0,
            )
        if kind == 3:
            return datagram(
                rng.choice((Code.GET, Code.PUT, Code.FETCH, Code.iPATCH, Code.PATCH)),
                mid=self.next_mid(),
                token=token(rng),
                path=rng.choice((("rd",), ("dp",), ("bs",), ("rd", "x"), ("a",) * 20)),
            )
        if kind == 4:  # a code that is neither request nor response (reserved classes)
            return datagram(rng.choice((0x20, 0x60, 0xE0, 0x1F, 0xFF)), mid=self.next_mid(), token=token(rng))
        if kind == 5:  # many options, long ones
            return datagram(
                Code.POST,
                mid=self.next_mid(),
                token=token(rng),
                path=("rd",) + ("p" * 255,) * rng.randint(1, 30),
                query=["q" * rng.randint(0, 1034)] * rng.randint(1, 10),
            )
        if kind == 6:  # a NON request
            return datagram(
                Code.POST, mtype=NON, mid=self.next_mid(), token=token(rng), path=("rd",), query=register_query(rng)
            )
        return datagram(
            Code.POST,
            mid=self.next_mid(),
            token=token(rng),
            path=("dp",),
            payload=random_bytes(rng, 1500),
            content_format=rng.choice((110, 112, 11544, 0, 60)),
        )

    # -- answers to the server's requests ------------------------------------------------------------

    def answer(self, request: Message) -> list[bytes]:
        """Answers to one request of the server: piggybacked, separate, RST, an error, or nothing."""
        rng = self.rng
        roll = rng.random()
        observing = request.opt.observe == 0
        path = _path_of(request)
        if roll < 0.08:
            return []  # let it retransmit and time out
        if roll < 0.14:
            return [datagram(Code.EMPTY, mtype=RST, mid=request.mid)]
        fmt, payload = payload_for(rng, path, request.opt.accept)
        code = (
            Code.CONTENT
            if request.code in (Code.GET, Code.FETCH)
            else rng.choice((Code.CHANGED, Code.CREATED, Code.DELETED))
        )
        if roll < 0.2:
            code = rng.choice(
                (Code.NOT_FOUND, Code.BAD_REQUEST, Code.NOT_ACCEPTABLE, Code.INTERNAL_SERVER_ERROR, Code.CONTINUE)
            )
        observe = rng.randrange(1 << 24) if observing and rng.random() < 0.9 else None
        block2 = None
        if rng.random() < 0.05:  # the first of several blocks
            block2 = (
                request.opt.block2.block_number if request.opt.block2 else 0,
                rng.random() < 0.9,
                rng.randrange(7),
            )
            payload = (payload * 64)[: 1 << (block2[2] + 4)]
        if roll < 0.3:  # empty ACK now, the answer as a CON of its own
            return [
                datagram(Code.EMPTY, mtype=ACK, mid=request.mid),
                datagram(
                    code,
                    mtype=rng.choice((CON, NON)),
                    mid=self.next_mid(),
                    token=request.token,
                    payload=payload,
                    content_format=fmt,
                    observe=observe,
                    block2=block2,
                ),
            ]
        return [
            datagram(
                code,
                mtype=ACK,
                mid=request.mid,
                token=request.token,
                payload=payload,
                content_format=fmt,
                observe=observe,
                block2=block2,
            )
        ]

    def notification(self, request: Message, sequence: int) -> bytes:
        """A notification of the observation request started (CON or NON, any content)."""
        rng = self.rng
        fmt, payload = payload_for(rng, _path_of(request), request.opt.accept)
        code = Code.CONTENT if rng.random() < 0.95 else rng.choice((Code.NOT_FOUND, Code.INTERNAL_SERVER_ERROR))
        return datagram(
            code,
            mtype=rng.choice((CON, NON, NON)),
            mid=self.next_mid(),
            token=request.token,
            observe=sequence & 0xFFFFFF,
            payload=payload,
            content_format=fmt,
        )


def _path_of(request: Message) -> Path:
    try:
        return Path.parse("/" + "/".join(request.opt.uri_path))
    except CodecError:
        return Path()
