"""The communication retry values the server writes to a device's Server object (retries.py)."""

from __future__ import annotations

from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.retries import (
    RETRY_COUNT,
    RETRY_TIMER,
    RETRY_VALUES,
    SEQUENCE_DELAY,
    SEQUENCE_RETRY_COUNT,
    SERVER_OBJECT,
    retry_settings,
)

P = Path.parse
# the specification's defaults, as a fresh device holds them
SPEC_DEFAULTS = {P("/1/0/17"): 5, P("/1/0/18"): 60, P("/1/0/19"): 86400, P("/1/0/20"): 1}


def test_the_resources_and_the_values_written() -> None:
    assert (SERVER_OBJECT, RETRY_COUNT, RETRY_TIMER, SEQUENCE_DELAY, SEQUENCE_RETRY_COUNT) == (1, 17, 18, 19, 20)
    # 5 attempts 10, 20, 40 and 80 s apart, then a sequence every 5 minutes, 12 of them
    assert dict(RETRY_VALUES) == {17: 5, 18: 10, 19: 300, 20: 12}


def test_a_device_with_the_defaults_gets_every_value_that_differs() -> None:
    instances = [P("/0/0"), P("/1/0"), P("/3/0")]
    server, changes = retry_settings(instances, SPEC_DEFAULTS)
    assert server == P("/1/0")
    assert changes == {18: 10, 19: 300, 20: 12}  # the retry count is 5 already


def test_the_instance_id_of_the_server_object_is_kept() -> None:
    values = {P("/1/4/17"): 2, P("/1/4/18"): 10}
    assert retry_settings([P("/1/4"), P("/3/0")], values) == (P("/1/4"), {17: 5})


def test_values_already_right_need_no_write() -> None:
    values = {P(f"/1/0/{rid}"): wanted for rid, wanted in RETRY_VALUES.items()}
    assert retry_settings([P("/1/0")], values) == (P("/1/0"), {})


def test_only_resources_the_device_showed_are_written() -> None:
    # a 1.0 device has no retry resources: nothing to write
    assert retry_settings([P("/1/0")], {P("/1/0/1"): 300}) == (P("/1/0"), {})
    # a resource read as None (empty) is not written either
    assert retry_settings([P("/1/0")], {P("/1/0/17"): None, P("/1/0/19"): 60}) == (P("/1/0"), {19: 300})


def test_values_of_another_instance_or_object_do_not_count() -> None:
    values = {P("/1/1/18"): 60, P("/2/0/18"): 60, P("/1/0/18"): 60}
    assert retry_settings([P("/1/0"), P("/2/0")], values) == (P("/1/0"), {18: 10})


def test_no_write_unless_there_is_exactly_one_server_instance() -> None:
    assert retry_settings([], SPEC_DEFAULTS) == (P("/1"), {})
    assert retry_settings([P("/0/0"), P("/3/0")], SPEC_DEFAULTS) == (P("/1"), {})
    two = {**SPEC_DEFAULTS, P("/1/1/18"): 60}
    assert retry_settings([P("/1/0"), P("/1/1")], two) == (P("/1"), {})


def test_only_instance_paths_name_a_server_instance() -> None:
    # the object alone, or a resource, is not an instance
    assert retry_settings([P("/1")], SPEC_DEFAULTS) == (P("/1"), {})
    assert retry_settings([P("/1/0/18")], SPEC_DEFAULTS) == (P("/1"), {})
    # an object whose instance id is 1 is not the Server object
    assert retry_settings([P("/5/1")], {P("/5/1/18"): 60}) == (P("/1"), {})
    assert retry_settings([P("/1/0"), P("/1/0/18"), P("/1")], SPEC_DEFAULTS) == (P("/1/0"), {18: 10, 19: 300, 20: 12})
