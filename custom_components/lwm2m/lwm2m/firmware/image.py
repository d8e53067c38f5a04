"""A firmware image on disk, and reading it in blocks without holding it in memory.

An image is a file, its size and its SHA-256 (which names it). Readers go through a window of
WINDOW bytes, read in a worker thread: a 10 MB push or download holds one window per transfer,
never the image.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import BinaryIO

from ..errors import LwM2MError

WINDOW = 64 * 1024  # bytes read from disk at once
MAX_IMAGE = 256 * 1024 * 1024  # no device takes more (Block1 numbers end at 2**20 blocks of 1 KiB, 1 GiB)


class ImageError(LwM2MError):
    """An image that cannot be used: missing, empty, too large, or changed on disk."""


@dataclass(frozen=True, slots=True)
class FirmwareImage:
    """A firmware image: where it is, how large, its SHA-256 (hex); the version it installs, if known."""

    path: FilePath
    size: int
    sha256: str
    version: str | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], version: str | None = None) -> FirmwareImage:
        """Measure and hash the file at path (blocking: run it in an executor)."""
        file = FilePath(path)
        digest = hashlib.sha256()
        size = 0
        try:
            with file.open("rb") as handle:
                while chunk := handle.read(WINDOW * 4):
                    size += len(chunk)
                    if size > MAX_IMAGE:
                        raise ImageError(f"{file.name} is larger than {MAX_IMAGE // 2**20} MiB")
                    digest.update(chunk)
        except OSError as err:
            raise ImageError(f"cannot read {file}: {err.strerror or err}") from None
        if not size:
            raise ImageError(f"{file.name} is empty")
        return cls(file, size, digest.hexdigest(), version)


class ImageReader:
    """Reads an image's blocks in order (or again, for a retransmitted request) through a window.

    The file must still be the image it was (same size); close() lets it go.
    """

    def __init__(self, image: FirmwareImage) -> None:
        """Read image."""
        self.image = image
        self.size = image.size
        self._file: BinaryIO | None = None
        self._start = 0
        self._data = b""
        self._lock = asyncio.Lock()

    async def read(self, offset: int, length: int) -> bytes:
        """Return up to length bytes at offset (fewer at the end of the image, none past it)."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length cannot be negative")
        length = min(length, self.size - offset)
        if length <= 0:
            return b""
        async with self._lock:
            start = offset - self._start
            if not (start >= 0 and start + length <= len(self._data)):
                self._data = await asyncio.to_thread(self._load, offset, max(length, WINDOW))
                self._start, start = offset, 0
            return self._data[start : start + length]

    def _load(self, offset: int, length: int) -> bytes:
        try:
            if self._file is None:
                self._file = self.image.path.open("rb")
                if os.fstat(self._file.fileno()).st_size != self.size:
                    raise ImageError(f"{self.image.path.name} changed on disk since it was chosen")
            self._file.seek(offset)
            data = self._file.read(length)
        except OSError as err:
            raise ImageError(f"cannot read {self.image.path}: {err.strerror or err}") from None
        if len(data) < min(length, self.size - offset):
            raise ImageError(f"{self.image.path.name} changed on disk since it was chosen")
        return data

    def close(self) -> None:
        """Let the file go (the next read opens it again)."""
        file, self._file = self._file, None
        self._data = b""
        if file is not None:
            file.close()
