"""The typed errors of the protocol core."""

from __future__ import annotations


class LwM2MError(Exception):
    """Base of every error the core raises on purpose."""


class CodecError(LwM2MError, ValueError):
    """A payload could not be decoded or a value could not be encoded.

    Every decoder raises this and only this for bad input, whatever the bytes were.
    """


class PathError(CodecError):
    """A path such as "/3/0/9" is malformed or out of range."""


class ModelError(LwM2MError):
    """An object definition (XML) could not be read."""
