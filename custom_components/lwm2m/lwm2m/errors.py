"""The typed errors of the protocol core."""

from __future__ import annotations


def shown(value: object, limit: int = 60) -> str:
    """Return value as an error message shows it: its repr, cut to about limit characters.

    Never raises: an integer of thousands of digits (past what str() converts) is described
    by its size, so that a hostile value neither escapes as ValueError nor floods a log line.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else f"{text[:limit]}..."


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


class OperationError(LwM2MError):
    """A device answered an operation with an error code, or never answered.

    code is the CoAP response code as text ("4.04"), or None when nothing came back.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        """Keep the CoAP code ("4.04") of the failure, if there was one."""
        super().__init__(message)
        self.code = code


class DeviceTimeout(OperationError):
    """The device did not answer in time (or its queued request expired)."""


class NotRegistered(OperationError):
    """No registration exists for the endpoint an operation names."""


class QueueFull(OperationError):
    """A sleeping device already has as many queued requests as allowed."""
