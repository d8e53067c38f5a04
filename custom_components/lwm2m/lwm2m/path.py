"""LwM2M paths: /O, /O/I, /O/I/R and /O/I/R/RI, parsed, validated and ordered."""

from __future__ import annotations

from dataclasses import dataclass
from functools import total_ordering

from .errors import PathError

MAX_ID = 65534  # 65535 is reserved by the specification (Core, "ID" data type)


@total_ordering
@dataclass(frozen=True, slots=True)
class Path:
    """A path into the LwM2M tree; the root path has no ids at all."""

    ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.ids) > 4:
            raise PathError(f"a path has at most 4 levels, got {len(self.ids)}")
        for i in self.ids:
            if type(i) is not int or not 0 <= i <= MAX_ID:
                raise PathError(f"path id {i!r} is not an integer between 0 and {MAX_ID}")

    @classmethod
    def of(cls, *ids: int) -> Path:
        return cls(tuple(ids))

    @classmethod
    def parse(cls, text: str) -> Path:
        """Parse "/3/0/9", "3/0/9" or "/3/0/9/" (trailing slash allowed, as in base names)."""
        if not isinstance(text, str):
            raise PathError(f"a path must be text, got {type(text).__name__}")
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
                raise PathError(f"invalid path {text!r}: {part!r} is not an id")
            ids.append(int(part))
        return cls(tuple(ids))

    @property
    def object_id(self) -> int | None:
        return self.ids[0] if len(self.ids) > 0 else None

    @property
    def instance_id(self) -> int | None:
        return self.ids[1] if len(self.ids) > 1 else None

    @property
    def resource_id(self) -> int | None:
        return self.ids[2] if len(self.ids) > 2 else None

    @property
    def resource_instance_id(self) -> int | None:
        return self.ids[3] if len(self.ids) > 3 else None

    @property
    def is_root(self) -> bool:
        return not self.ids

    @property
    def is_object(self) -> bool:
        return len(self.ids) == 1

    @property
    def is_instance(self) -> bool:
        return len(self.ids) == 2

    @property
    def is_resource(self) -> bool:
        return len(self.ids) == 3

    @property
    def is_resource_instance(self) -> bool:
        return len(self.ids) == 4

    @property
    def depth(self) -> int:
        return len(self.ids)

    @property
    def parent(self) -> Path:
        if not self.ids:
            raise PathError("the root path has no parent")
        return Path(self.ids[:-1])

    def child(self, child_id: int) -> Path:
        return Path((*self.ids, child_id))

    def startswith(self, other: Path) -> bool:
        """True when other is this path or one of its ancestors."""
        return self.ids[: len(other.ids)] == other.ids

    def relative_to(self, base: Path) -> tuple[int, ...]:
        if not self.startswith(base):
            raise PathError(f"{self} is not below {base}")
        return self.ids[len(base.ids) :]

    def __str__(self) -> str:
        return "/" + "/".join(map(str, self.ids))

    def __repr__(self) -> str:
        return f"Path({self})"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Path):
            return NotImplemented
        return self.ids < other.ids


ROOT = Path()
