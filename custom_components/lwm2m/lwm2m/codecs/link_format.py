"""CoRE link format (application/link-format, 40; RFC 6690) for LwM2M.

Registration payloads (objects, instances, versions, the alternate root path with
rt="oma.lwm2m", supported content formats) and Discover answers (attributes such as
pmin, pmax, gt, lt, st, epmin, epmax, dim).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import CodecError, shown
from ..path import Path

MAX_LINKS = 10_000
MAX_REGISTRATION_LINKS = 2_000  # objects and instances in one Register or Update
AttrValue = str | int | float | None
_TOKEN = re.compile(r'[^;,\s"\\<>]*')
_NAME = re.compile(r"[A-Za-z0-9!#$&+\-.^_`|~]+\*?")
_INT_ATTRS = {"pmin", "pmax", "epmin", "epmax", "dim", "ssid", "ct"}
_FLOAT_ATTRS = {"gt", "lt", "st"}
_QUOTED_ATTRS = {"rt", "if", "title", "anchor", "rel"}


@dataclass(frozen=True, slots=True)
class Link:
    """One CoRE link: a URI and its attributes."""

    uri: str
    attributes: Mapping[str, AttrValue] = field(default_factory=dict)


def _attr_value(name: str, raw: str | None, quoted: bool) -> AttrValue:
    if raw is None:
        return None
    if quoted:
        return raw
    try:
        if name in _INT_ATTRS:
            return int(raw)
        if name in _FLOAT_ATTRS:
            return float(raw)
    except ValueError:
        raise CodecError(f"attribute {name}={shown(raw)} is not a number") from None
    return raw


def parse(payload: bytes | str) -> list[Link]:
    """Parse a link-format document into links with typed attributes."""
    if isinstance(payload, bytes):
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as err:
            raise CodecError(f"link format is not UTF-8: {err}") from None
    else:
        text = payload
    links: list[Link] = []
    pos, end = 0, len(text)
    while pos < end:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            break
        if text[pos] != "<":
            raise CodecError(f"link format: expected '<' at offset {pos}")
        close = text.find(">", pos)
        if close < 0:
            raise CodecError("link format: unterminated '<'")
        uri = text[pos + 1 : close]
        pos = close + 1
        attrs: dict[str, AttrValue] = {}
        while pos < end and text[pos] == ";":
            pos += 1
            m = _NAME.match(text, pos)
            if not m:
                raise CodecError(f"link format: bad attribute name at offset {pos}")
            name = m.group(0)
            pos = m.end()
            raw: str | None = None
            quoted = False
            if pos < end and text[pos] == "=":
                pos += 1
                if pos < end and text[pos] == '"':
                    chars: list[str] = []
                    pos += 1
                    while pos < end and text[pos] != '"':
                        if text[pos] == "\\" and pos + 1 < end:
                            pos += 1
                        chars.append(text[pos])
                        pos += 1
                    if pos >= end:
                        raise CodecError("link format: unterminated quoted value")
                    pos += 1
                    raw, quoted = "".join(chars), True
                else:
                    m = _TOKEN.match(text, pos)
                    assert m is not None
                    raw = m.group(0)
                    pos = m.end()
            attrs[name] = _attr_value(name, raw, quoted)
        links.append(Link(uri, attrs))
        if len(links) > MAX_LINKS:
            raise CodecError(f"link format holds more than {MAX_LINKS} links")
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos < end:
            if text[pos] != ",":
                raise CodecError(f"link format: expected ',' at offset {pos}")
            pos += 1
    return links


def _format_attr(name: str, value: AttrValue) -> str:
    if value is None:
        return f";{name}"
    if isinstance(value, str) and (name in _QUOTED_ATTRS or not _TOKEN.fullmatch(value)):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f';{name}="{escaped}"'
    if isinstance(value, float) and value.is_integer():
        return f";{name}={int(value)}" if name not in _FLOAT_ATTRS else f";{name}={value:g}"
    return f";{name}={value}"


def format_links(links: Iterable[Link]) -> bytes:
    """Encode links as CoRE link format."""
    return ",".join(
        f"<{link.uri}>" + "".join(_format_attr(k, v) for k, v in link.attributes.items()) for link in links
    ).encode()


@dataclass(frozen=True, slots=True)
class RegisteredObjects:
    """What a Register or Update payload announces."""

    root_path: str = "/"
    content_formats: tuple[int, ...] = ()
    objects: Mapping[int, str | None] = field(default_factory=dict)  # object id -> version
    instances: tuple[Path, ...] = ()  # object-instance paths, sorted

    def instance_ids(self, object_id: int) -> list[int]:
        """Return the instance ids the device announced for object_id."""
        return [p.ids[1] for p in self.instances if p.ids[0] == object_id]

    def free_instance_id(self, object_id: int) -> int:
        """Pick the lowest instance id of object_id the device has not announced (for a Create)."""
        used = set(self.instance_ids(object_id))
        return next(i for i in range(65535) if i not in used)


def parse_registration(payload: bytes | str) -> RegisteredObjects:
    """Parse a Register or Update payload into the objects the device announced.

    A list of more than MAX_REGISTRATION_LINKS links is refused: each becomes state the
    server keeps for as long as the registration lives.
    """
    links = parse(payload)
    if len(links) > MAX_REGISTRATION_LINKS:
        raise CodecError(f"{len(links)} links; a registration lists at most {MAX_REGISTRATION_LINKS}")
    root = "/"
    formats: tuple[int, ...] = ()
    for link in links:
        if link.attributes.get("rt") == "oma.lwm2m":
            root = "/" + link.uri.strip("/")
            ct = link.attributes.get("ct")
            if isinstance(ct, int):
                formats = (ct,)
            elif isinstance(ct, str):
                try:
                    formats = tuple(int(x) for x in ct.split())
                except ValueError:
                    raise CodecError(f"ct={shown(ct)} is not a list of content formats") from None
    prefix = root.rstrip("/")
    objects: dict[int, str | None] = {}
    instances: set[Path] = set()
    for link in links:
        if link.attributes.get("rt") == "oma.lwm2m":
            continue
        uri = link.uri
        if prefix and uri.startswith(prefix + "/"):
            uri = uri[len(prefix) :]
        path = Path.parse(uri)
        if path.depth not in (1, 2):
            raise CodecError(f"registration link <{link.uri}> is not an object or object instance")
        version = link.attributes.get("ver")
        oid = path.ids[0]
        if oid not in objects or version is not None:
            objects[oid] = str(version) if version is not None else objects.get(oid)
        if path.depth == 2:
            instances.add(path)
    return RegisteredObjects(root, formats, dict(sorted(objects.items())), tuple(sorted(instances)))


def format_registration(registered: RegisteredObjects) -> bytes:
    """Encode the objects a device announced as a Register payload."""
    links: list[Link] = []
    prefix = registered.root_path.rstrip("/")
    if prefix or registered.content_formats:
        attrs: dict[str, AttrValue] = {"rt": "oma.lwm2m"}
        if registered.content_formats:
            cts = registered.content_formats
            attrs["ct"] = cts[0] if len(cts) == 1 else " ".join(map(str, cts))
        links.append(Link(registered.root_path, attrs))
    for oid, version in registered.objects.items():
        ids = registered.instance_ids(oid)
        ver = {"ver": version} if version else {}
        if not ids:
            links.append(Link(f"{prefix}/{oid}", ver))
        for n, iid in enumerate(ids):
            links.append(Link(f"{prefix}/{oid}/{iid}", ver if n == 0 else {}))
    return format_links(links)


def parse_discover(payload: bytes | str) -> dict[Path, dict[str, AttrValue]]:
    """Parse a Discover answer into path -> attributes."""
    out: dict[Path, dict[str, AttrValue]] = {}
    for link in parse(payload):
        out[Path.parse(link.uri)] = dict(link.attributes)
    return out


def format_discover(entries: Mapping[Path, Mapping[str, AttrValue]]) -> bytes:
    """Encode a Discover answer from path -> attributes."""
    return format_links(Link(str(p), a) for p, a in entries.items())
