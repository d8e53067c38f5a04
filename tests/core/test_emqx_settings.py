"""The EMQX gateway's MQTT settings as a config entry keeps them, and the topics they make."""

from __future__ import annotations

import pytest

from custom_components.lwm2m.lwm2m.emqx.settings import (
    ENDPOINT_VARIABLE,
    OPTION_PREFIX,
    TRANSLATORS,
    UPDATE_CONDITIONS,
    EmqxSettings,
    Translator,
)


def test_emqx_defaults() -> None:
    settings = EmqxSettings()
    assert settings.mountpoint == "lwm2m/${endpoint_name}/"
    assert settings.command == Translator("dn/#", 0)
    assert settings.response == Translator("up/resp", 0)
    assert settings.notify == Translator("up/notify", 0)
    assert settings.register == Translator("up/resp", 0)
    assert settings.update == Translator("up/update", 0)
    assert settings.update_msg_publish_condition == "contains_object_list"
    assert UPDATE_CONDITIONS == ("contains_object_list", "always")
    assert TRANSLATORS == ("command", "response", "notify", "register", "update")
    assert (OPTION_PREFIX, ENDPOINT_VARIABLE) == ("mqtt_", "${endpoint_name}")


def test_no_options_give_emqx_defaults() -> None:
    assert EmqxSettings.from_options({}) == EmqxSettings()
    # options of the rest of the config entry are not settings
    assert EmqxSettings.from_options({"port": 5683, "mountpoint": "x/", "command_topic": "y"}) == EmqxSettings()


def test_every_option_is_read() -> None:
    options = {
        "mqtt_mountpoint": "gw/${endpoint_name}/",
        "mqtt_update_msg_publish_condition": "always",
        **{f"mqtt_{name}_topic": f"t/{name}" for name in TRANSLATORS},
        **{f"mqtt_{name}_qos": index % 3 for index, name in enumerate(TRANSLATORS)},
    }
    settings = EmqxSettings.from_options(options)
    assert settings == EmqxSettings(
        mountpoint="gw/${endpoint_name}/",
        command=Translator("t/command", 0),
        response=Translator("t/response", 1),
        notify=Translator("t/notify", 2),
        register=Translator("t/register", 0),
        update=Translator("t/update", 1),
        update_msg_publish_condition="always",
    )
    assert settings.publishes_every_update


def test_a_topic_or_qos_left_out_keeps_its_own_default() -> None:
    settings = EmqxSettings.from_options({"mqtt_notify_qos": 1, "mqtt_update_topic": "up/upd", "mqtt_mountpoint": ""})
    assert settings.notify == Translator("up/notify", 1)  # the topic stays EMQX's
    assert settings.update == Translator("up/upd", 0)  # the QoS stays 0
    assert settings.response == Translator("up/resp", 0)
    assert settings.mountpoint == ""
    assert settings.topic("dev", settings.update) == "up/upd"
    assert not settings.publishes_every_update


def test_values_from_a_form_are_converted() -> None:
    # a form may keep a QoS as text, or a number as a topic
    settings = EmqxSettings.from_options({"mqtt_command_qos": "2", "mqtt_response_topic": 7})
    assert settings.command == Translator("dn/#", 2)
    assert settings.response == Translator("7", 0)
    with pytest.raises(ValueError):
        EmqxSettings.from_options({"mqtt_notify_qos": "high"})


def test_which_updates_are_published() -> None:
    changes_only = EmqxSettings()
    assert changes_only.publishes_update(objects_changed=True)
    assert not changes_only.publishes_update(objects_changed=False)
    assert not changes_only.publishes_every_update
    always = EmqxSettings(update_msg_publish_condition="always")
    assert always.publishes_update(objects_changed=False) and always.publishes_update(objects_changed=True)
    assert always.publishes_every_update


def test_topics_with_a_mountpoint_naming_the_endpoint_twice() -> None:
    settings = EmqxSettings(mountpoint="${endpoint_name}/gw/${endpoint_name}/", command=Translator("cmd/+"))
    assert settings.topic("a", settings.notify) == "a/gw/a/up/notify"
    assert settings.command_filter() == "+/gw/+/cmd/+"
    assert settings.command_topic("a") == "a/gw/a/cmd/cmd"


def test_command_topics_follow_mqtt_filter_semantics() -> None:
    default = EmqxSettings()
    assert default.endpoint_of("lwm2m/dev/dn") == "dev"  # '#' matches no level too
    assert default.endpoint_of("lwm2m/dev/dn/a/b/c") == "dev"
    assert default.endpoint_of("lwm2m/dev/dnx") is None
    assert default.endpoint_of("lwm2m/a/b/dn/cmd") is None  # an endpoint is one level
    assert default.endpoint_of("xlwm2m/dev/dn/cmd") is None
    assert default.endpoint_of("lwm2m/+/dn/cmd") is None  # a wildcard is no endpoint name
    plus = EmqxSettings(command=Translator("dn/+/cmd"))
    assert plus.endpoint_of("lwm2m/dev/dn/x/cmd") == "dev"
    assert plus.endpoint_of("lwm2m/dev/dn/x/y/cmd") is None
    assert plus.endpoint_of("lwm2m/dev/dn//cmd") is None
    everything = EmqxSettings(mountpoint="m/${endpoint_name}", command=Translator("#"))
    assert everything.endpoint_of("m/dev") == "dev"
    assert everything.endpoint_of("m/dev/anything/at/all") == "dev"
    dots = EmqxSettings(mountpoint="a.b/${endpoint_name}/", command=Translator("c"))
    assert dots.endpoint_of("aXb/dev/c") is None  # the mountpoint is text, not a pattern
    assert dots.endpoint_of("a.b/dev/c") == "dev"


def test_the_consumer_subscribes_with_the_highest_qos_of_a_topic() -> None:
    settings = EmqxSettings(register=Translator("up/resp", 2), response=Translator("up/resp", 1))
    assert settings.up_filters() == {"lwm2m/+/up/resp": 2, "lwm2m/+/up/update": 0, "lwm2m/+/up/notify": 0}
    lower = EmqxSettings(register=Translator("up/resp", 0), response=Translator("up/resp", 1))
    assert lower.up_filters()["lwm2m/+/up/resp"] == 1


def test_the_endpoint_of_an_up_topic() -> None:
    settings = EmqxSettings()
    for translator in ("up/resp", "up/notify", "up/update"):
        assert settings.endpoint_of_up(f"lwm2m/dev-1/{translator}") == "dev-1"
    assert settings.endpoint_of_up("lwm2m/dev/dn/cmd") is None
    assert settings.endpoint_of_up("lwm2m/dev/up/resp/x") is None
    assert settings.endpoint_of_up("other/dev/up/resp") is None
    custom = EmqxSettings(notify=Translator("n"), response=Translator("r"), update=Translator("u"))
    assert [custom.endpoint_of_up(f"lwm2m/e/{t}") for t in ("n", "r", "u", "up/resp")] == ["e", "e", "e", "e"]
