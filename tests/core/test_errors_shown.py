"""How a bad value appears in an error message (errors.shown), and the error types callers catch."""

from __future__ import annotations

import pytest

from custom_components.lwm2m.lwm2m.errors import (
    CodecError,
    DeviceTimeout,
    LwM2MError,
    ModelError,
    NotRegistered,
    OperationError,
    PathError,
    QueueFull,
    shown,
)


def test_a_short_value_is_its_repr() -> None:
    assert shown("abc") == "'abc'"
    assert shown(b"\x00") == "b'\\x00'"
    assert shown(True) == "True"
    assert shown(None) == "None"


def test_a_long_value_is_cut_to_the_limit_with_an_ellipsis() -> None:
    exactly = "x" * 58  # repr adds the two quotes: 60 characters, the default limit
    assert shown(exactly) == repr(exactly)
    longer = "x" * 59  # 61 characters
    assert shown(longer) == "'" + "x" * 59 + "..."
    assert len(shown("y" * 1000)) == 63
    assert shown("abcdef", limit=4) == "'abc..."
    assert shown("ab", limit=4) == "'ab'"


def test_an_integer_of_up_to_200_bits_is_written_out() -> None:
    assert shown(2**199) == str(2**199)  # 200 bits, 60 digits: the whole number
    assert shown(-(2**199)) == "-" + str(2**199)[:59] + "..."
    assert shown(12345) == "12345"


def test_a_larger_integer_is_described_by_its_size() -> None:
    assert shown(2**200) == "an integer of about 60 digits"  # 201 bits
    assert shown(-(2**300)) == "an integer of about 90 digits"
    # far past what str() converts: still a message, no ValueError
    assert shown(10**100_000) == "an integer of about 100000 digits"


def test_a_value_whose_repr_fails_is_named_by_its_type() -> None:
    assert shown([10**5000]) == "a list"  # repr of the int inside raises ValueError
    nested: list[object] = []
    for _ in range(100_000):
        nested = [nested]
    assert shown(nested) == "a list"  # RecursionError

    class Broken:
        def __repr__(self) -> str:
            raise ValueError("no")

    assert shown(Broken()) == "a Broken"


def test_error_types_callers_catch() -> None:
    # a decoder's errors are ValueErrors too, and every error is an LwM2MError
    assert issubclass(CodecError, ValueError) and issubclass(CodecError, LwM2MError)
    assert issubclass(PathError, CodecError)
    assert issubclass(ModelError, LwM2MError) and not issubclass(ModelError, CodecError)
    for kind in (DeviceTimeout, NotRegistered, QueueFull):
        assert issubclass(kind, OperationError)
    err = OperationError("dev answered 4.04", "4.04")
    assert (str(err), err.code) == ("dev answered 4.04", "4.04")
    assert OperationError("no answer").code is None
    assert DeviceTimeout("late", "5.04").code == "5.04"
    with pytest.raises(LwM2MError, match=r"^gone$"):
        raise NotRegistered("gone")
