"""LwM2M paths: /O, /O/I, /O/I/R and /O/I/R/RI, parsed, validated and ordered."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import total_ordering

from .errors import PathError, shown

MAX_ID = 65534  # 65535 is reserved by the specification (Core, "ID" data type)


@total_ordering
@dataclass(frozen=True, slots=True)
class Path:
    """A path into the LwM2M tree; the root path has no ids at all."""

    ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a path of more than 4 levels or with ids outside 0..65535."""
        if len(self.ids) > 4:
            raise PathError(f"a path has at most 4 levels, got {len(self.ids)}")
        for i in self.ids:
            if type(i) is not int or not 0 <= i <= MAX_ID:
                raise PathError(f"path id {shown(i)} is not an integer between 0 and {MAX_ID}")

    @classmethod
    def of(cls, *ids: int) -> Path:
        """Build a path from its ids."""
        return cls(tuple(ids))

    @classmethod
    def parse(cls, text: str) -> Path:
        """Parse "/3/0/9", "3/0/9" or "/3/0/9/" (trailing slash allowed, as in base names)."""
        if not isinstance(text, str):
            raise PathError(f"a path must be text, got {type(text).__name__}")
        return _parse(text)

    @property
    def object_id(self) -> int | None:
        """Return the object id, if the path has one."""
        return self.ids[0] if len(self.ids) > 0 else None

    @property
    def instance_id(self) -> int | None:
        """Return the object instance id, if the path has one."""
        return self.ids[1] if len(self.ids) > 1 else None

    @property
    def resource_id(self) -> int | None:
        """Return the resource id, if the path has one."""
        return self.ids[2] if len(self.ids) > 2 else None

    @property
    def resource_instance_id(self) -> int | None:
        """Return the resource instance id, if the path has one."""
        return self.ids[3] if len(self.ids) > 3 else None

    @property
    def is_root(self) -> bool:
        """Return whether this is the root path."""
        return not self.ids

    @property
    def is_object(self) -> bool:
        """Return whether the path names an object."""
        return len(self.ids) == 1

    @property
    def is_instance(self) -> bool:
        """Return whether the path names an object instance."""
        return len(self.ids) == 2

    @property
    def is_resource(self) -> bool:
        """Return whether the path names a resource."""
        return len(self.ids) == 3

    @property
    def is_resource_instance(self) -> bool:
        """Return whether the path names a resource instance."""
        return len(self.ids) == 4

    @property
    def depth(self) -> int:
        """Return how many levels the path has."""
        return len(self.ids)

    @property
    def parent(self) -> Path:
        """Return the path one level up; PathError for the root."""
        if not self.ids:
            raise PathError("the root path has no parent")
        return Path(self.ids[:-1])

    def child(self, child_id: int) -> Path:
        """Return the path one level down, to child_id."""
        return Path((*self.ids, child_id))

    def startswith(self, other: Path) -> bool:
        """Tell whether other is this path or one of its ancestors."""
        return self.ids[: len(other.ids)] == other.ids

    def relative_to(self, base: Path) -> tuple[int, ...]:
        """Return the ids of this path below base; PathError if it is not below it."""
        if not self.startswith(base):
            raise PathError(f"{self} is not below {base}")
        return self.ids[len(base.ids) :]

    def __str__(self) -> str:
        """Return the path as LwM2M writes it ("/3/0/9")."""
        return "/" + "/".join(map(str, self.ids))

    def __repr__(self) -> str:
        """Return the path for debugging."""
        return f"Path({self})"

    def __lt__(self, other: object) -> bool:
        """Order paths by their ids."""
        if not isinstance(other, Path):
            return NotImplemented
        return self.ids < other.ids


ROOT = Path()


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Path:
    """Parse a path's text, remembering the answer.

    A device sends the same few paths again and again; paths are immutable, and a flood of
    distinct ones only churns the bounded cache.
    """
    body = text.strip()
    if body in ("", "/"):
        return ROOT
    if body.startswith("/"):
        body = body[1:]
    if body.endswith("/"):
        body = body[:-1]
    parts = body.split("/")
    ids = []
    for part in parts:
        if not part.isascii() or not part.isdigit() or len(part) > 5:
            raise PathError(f"invalid path {shown(text)}: {shown(part)} is not an id")
        ids.append(int(part))
    return Path(tuple(ids))
