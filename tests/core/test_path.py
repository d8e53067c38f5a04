"""Paths: parsing, validation, ordering."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.lwm2m.lwm2m.errors import CodecError, PathError
from custom_components.lwm2m.lwm2m.path import ROOT, Path


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("/", ()),
        ("", ()),
        ("/3", (3,)),
        ("3/0", (3, 0)),
        ("/3303/0/5700", (3303, 0, 5700)),
        ("/3/0/7/1/", (3, 0, 7, 1)),
    ],
)
def test_parse(text: str, ids: tuple[int, ...]) -> None:
    path = Path.parse(text)
    assert path.ids == ids
    assert Path.parse(str(path)) == path


def test_levels() -> None:
    path = Path.parse("/3303/1/5700")
    assert (path.object_id, path.instance_id, path.resource_id, path.resource_instance_id) == (3303, 1, 5700, None)
    assert path.is_resource and not path.is_instance
    assert path.parent == Path.of(3303, 1)
    assert path.child(2).is_resource_instance
    assert path.startswith(Path.of(3303)) and not path.startswith(Path.of(3))
    assert path.relative_to(Path.of(3303)) == (1, 5700)
    assert ROOT.is_root and str(ROOT) == "/"
    assert sorted([Path.of(3, 1), Path.of(3), Path.of(1, 0)]) == [Path.of(1, 0), Path.of(3), Path.of(3, 1)]


@pytest.mark.parametrize(
    "text", ["/a", "/3//0", "/-1", "/3/0/9/1/2", "/65535", "/99999999", "/3/0x1", "/3 /0", "/٣", "//", "/3/+1"]
)
def test_rejects(text: str) -> None:
    with pytest.raises(PathError) as err:
        Path.parse(text)
    assert isinstance(err.value, CodecError)


def test_rejects_non_text_and_bad_ids() -> None:
    with pytest.raises(PathError):
        Path.parse(3)  # type: ignore[arg-type]
    with pytest.raises(PathError):
        Path((1, True))  # type: ignore[arg-type]
    with pytest.raises(PathError):
        ROOT.parent  # noqa: B018
    with pytest.raises(PathError):
        Path.of(3, 0).relative_to(Path.of(4))


@given(st.lists(st.integers(0, 65534), max_size=4))
def test_round_trip(ids: list[int]) -> None:
    path = Path(tuple(ids))
    assert Path.parse(str(path)) == path


@given(st.text(max_size=30))
def test_random_text_only_raises_path_error(text: str) -> None:
    with contextlib.suppress(PathError):
        Path.parse(text)


def test_path_refusals_say_what_is_wrong() -> None:
    with pytest.raises(PathError) as err:
        Path((3, 0, 7, 1, 2))
    assert str(err.value) == "a path has at most 4 levels, got 5"
    with pytest.raises(PathError) as err:
        Path.parse("/3/0/9").relative_to(Path.parse("/4"))
    assert str(err.value) == "/3/0/9 is not below /4"
    assert Path.parse("/3/0/9").relative_to(Path.parse("/3")) == (0, 9)


def test_a_path_is_not_less_than_itself() -> None:
    path = Path.parse("/3/0")
    assert not path < Path.parse("/3/0")
    assert Path.parse("/3") < path < Path.parse("/3/0/0") < Path.parse("/3/1")
    assert sorted([Path.parse("/3/1"), path, Path.parse("/3")]) == [Path.parse("/3"), path, Path.parse("/3/1")]
