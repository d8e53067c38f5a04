"""What the /rd and /dp resources accept from a device (site.py): the query of a Register or
Update, the endpoint name rules, the object list, and which handler a request reaches; a
refusal's text is the diagnostic payload the device gets back."""

from __future__ import annotations

from typing import Any

import pytest
from aiocoap import Code, Message

from custom_components.lwm2m.lwm2m.api import SourceStats
from custom_components.lwm2m.lwm2m.codecs.link_format import RegisteredObjects
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.registration import MAX_ENDPOINT_LENGTH
from custom_components.lwm2m.lwm2m.site import (
    LwM2MSite,
    Refused,
    RegisterParams,
    parse_params,
)

P = Path.parse


def _request(*query: str, payload: bytes = b"", content_format: int | None = None, code: Code = Code.POST) -> Message:
    message = Message(code=code, uri_path=("rd",), uri_query=query, payload=payload)
    if content_format is not None:
        message.opt.content_format = content_format
    return message


def _refusal(request: Message, *, register: bool = True) -> Refused:
    with pytest.raises(Refused) as err:
        parse_params(request, register=register)
    return err.value


def test_every_register_parameter_is_read() -> None:
    params = parse_params(
        _request("ep=dev-1", "lt=300", "lwm2m=1.1", "b=UQ", "sms=+4912345", "Q", payload=b"</1/0>,</3/0>"),
        register=True,
    )
    assert params.endpoint == "dev-1"
    assert params.lifetime == 300
    assert params.version == "1.1"
    assert params.binding == "UQ"
    assert params.sms == "+4912345"
    assert params.queue_mode is True
    assert params.objects is not None and params.objects.instances == (P("/1/0"), P("/3/0"))


def test_what_a_register_leaves_out_stays_unset() -> None:
    params = parse_params(_request("ep=dev"), register=True)
    assert params == RegisterParams(endpoint="dev", objects=RegisteredObjects())
    assert (params.lifetime, params.version, params.binding, params.sms, params.queue_mode) == (
        None,
        None,
        None,
        None,
        False,
    )


def test_an_update_without_a_payload_keeps_the_object_list() -> None:
    params = parse_params(_request("lt=60"), register=False)
    assert params.objects is None and params.endpoint is None and params.lifetime == 60
    with_list = parse_params(_request(payload=b"</3/0>"), register=False)
    assert with_list.objects is not None and with_list.objects.instances == (P("/3/0"),)


def test_unknown_parameters_are_ignored() -> None:
    params = parse_params(_request("ep=dev", "et=x", "d=domain", "weird"), register=True)
    assert params.endpoint == "dev"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (("lt=60",), "the ep (endpoint name) query parameter is missing"),
        (("ep=a", "ep=b"), "query parameter 'ep' appears twice"),
        (("ep=a", "lt=1", "lt=1"), "query parameter 'lt' appears twice"),
        (("ep=a", "lt=abc"), "lt must be a lifetime in seconds, got 'abc'"),
        (("ep=a", "lt=0"), "lt must be a lifetime in seconds, got '0'"),
        (("ep=a", "lt=-5"), "lt must be a lifetime in seconds, got '-5'"),
        (("ep=a", "lt=4294967296"), "lt must be a lifetime in seconds, got '4294967296'"),
        (("ep=a", "lt=٣"), "lt must be a lifetime in seconds, got '٣'"),  # a digit, but not ASCII
        (("ep=a", "lt="), "lt must be a lifetime in seconds, got ''"),
        (("ep=a", "b="), "b must be a binding such as U or UQ, got ''"),
        (("ep=a", "b=UX"), "b must be a binding such as U or UQ, got 'UX'"),
        (("ep=a", "b=u"), "b must be a binding such as U or UQ, got 'u'"),
        (("ep=a", "Q=1"), "Q takes no value"),
        (("ep=a", "Q="), "Q takes no value"),
        (("ep=",), f"ep must be an endpoint name of 1 to {MAX_ENDPOINT_LENGTH} characters"),
        (("ep",), "ep must be an endpoint name of 1 to 255 characters"),
        (("ep=" + "x" * 256,), "ep must be an endpoint name of 1 to 255 characters"),
        (("ep=a/b",), "ep must not contain '/': endpoint names end up in MQTT topics"),
        (("ep=a+b",), "ep must not contain '+': endpoint names end up in MQTT topics"),
        (("ep=a#",), "ep must not contain '#': endpoint names end up in MQTT topics"),
        (("ep=a\nb",), "ep must not contain control characters or other characters that do not print"),
        (("ep=a\x00",), "ep must not contain control characters or other characters that do not print"),
        (("ep= a",), "ep must not begin or end with whitespace"),
        (("ep=a ",), "ep must not begin or end with whitespace"),
    ],
)
def test_register_refusals_say_what_is_wrong(query: tuple[str, ...], message: str) -> None:
    err = _refusal(_request(*query))
    assert str(err) == message
    assert err.code == Code.BAD_REQUEST


def test_limits_that_are_accepted() -> None:
    assert parse_params(_request("ep=" + "x" * 255), register=True).endpoint == "x" * 255
    assert parse_params(_request("ep=a", "lt=1"), register=True).lifetime == 1
    assert parse_params(_request("ep=a", "lt=4294967295"), register=True).lifetime == 2**32 - 1
    assert parse_params(_request("ep=a", "b=UMHTSNQ"), register=True).binding == "UMHTSNQ"
    assert parse_params(_request("ep=a b.c-ü"), register=True).endpoint == "a b.c-ü"
    assert parse_params(_request("ep=a", "sms="), register=True).sms == ""


def test_an_update_cannot_rename_the_endpoint() -> None:
    err = _refusal(_request("ep=other"), register=False)
    assert str(err) == "the endpoint name cannot change in an Update"
    assert err.code == Code.BAD_REQUEST


def test_the_object_list_must_be_link_format() -> None:
    err = _refusal(_request("ep=a", payload=b"</3/0>", content_format=0))
    assert str(err) == "the object list must be link format (40), not TEXT"
    assert err.code == Code.UNSUPPORTED_CONTENT_FORMAT
    assert parse_params(_request("ep=a", payload=b"</3/0>", content_format=40), register=True).objects is not None


def test_a_bad_object_list_is_refused_with_the_codec_reason() -> None:
    err = _refusal(_request("ep=a", payload=b"</3/0"))
    assert str(err) == "bad object list: link format: unterminated '<'"
    assert err.code == Code.BAD_REQUEST
    err = _refusal(_request(payload=b"3/0"), register=False)
    assert str(err) == "bad object list: link format: expected '<' at offset 0"


def test_a_refusal_defaults_to_bad_request() -> None:
    assert Refused("x").code == Code.BAD_REQUEST
    assert Refused("y", Code.NOT_FOUND).code == Code.NOT_FOUND


# -- the site: which handler a request reaches ------------------------------------------------


class Recorder:
    """The server side of /rd and /dp, recording what reached it."""

    def __init__(self) -> None:
        self.stats = SourceStats()
        self.calls: list[tuple[Any, ...]] = []

    def handle_register(self, request: Message, params: RegisterParams) -> Message:
        self.calls.append(("register", params.endpoint))
        return Message(code=Code.CREATED)

    def handle_update(self, request: Message, reg_id: str, params: RegisterParams) -> Message:
        self.calls.append(("update", reg_id, params.lifetime))
        return Message(code=Code.CHANGED)

    def handle_deregister(self, request: Message, reg_id: str) -> Message:
        self.calls.append(("deregister", reg_id))
        return Message(code=Code.DELETED)

    def handle_send(self, request: Message) -> Message:
        self.calls.append(("send", request.payload))
        return Message(code=Code.CHANGED)

    def refuse(self, *args: Any) -> Message:
        raise Refused("no registration r9", Code.NOT_FOUND)


async def _render(site: LwM2MSite, code: Code, path: tuple[str, ...], *query: str, payload: bytes = b"") -> Message:
    return await site.render(Message(code=code, uri_path=path, uri_query=query, payload=payload))


async def test_requests_reach_their_handlers() -> None:
    server = Recorder()
    site = LwM2MSite(server)
    assert await site.needs_blockwise_assembly(Message(code=Code.POST)) is True
    assert (await _render(site, Code.POST, ("rd",), "ep=dev")).code == Code.CREATED
    assert (await _render(site, Code.POST, ("rd", "r1"), "lt=90")).code == Code.CHANGED
    assert (await _render(site, Code.DELETE, ("rd", "r1"))).code == Code.DELETED
    assert (await _render(site, Code.POST, ("dp",), payload=b"[]")).code == Code.CHANGED
    assert server.calls == [("register", "dev"), ("update", "r1", 90), ("deregister", "r1"), ("send", b"[]")]
    assert (server.stats.requests_in, server.stats.errors) == (4, 0)


@pytest.mark.parametrize(
    ("code", "path", "answer", "text"),
    [
        (Code.GET, ("rd",), Code.METHOD_NOT_ALLOWED, "use POST"),
        (Code.DELETE, ("dp",), Code.METHOD_NOT_ALLOWED, "use POST"),
        (Code.GET, ("rd", "r1"), Code.METHOD_NOT_ALLOWED, "use POST (Update) or DELETE (De-register)"),
        (Code.PUT, ("rd", "r1"), Code.METHOD_NOT_ALLOWED, "use POST (Update) or DELETE (De-register)"),
        (Code.POST, ("rd", "r1", "x"), Code.NOT_FOUND, "no resource at /rd/r1/x"),
        (Code.POST, ("dp", "x"), Code.NOT_FOUND, "no resource at /dp/x"),
        (Code.GET, ("3", "0"), Code.NOT_FOUND, "no resource at /3/0"),
        (Code.POST, (), Code.NOT_FOUND, "no resource at /"),
        (Code.POST, ("rd",), Code.BAD_REQUEST, "the ep (endpoint name) query parameter is missing"),
    ],
)
async def test_refusals_are_answered_with_their_reason(
    code: Code, path: tuple[str, ...], answer: Code, text: str
) -> None:
    server = Recorder()
    site = LwM2MSite(server)
    response = await _render(site, code, path)
    assert response.code == answer
    assert response.payload == text.encode()
    assert response.opt.content_format == 0  # text/plain
    assert server.calls == []
    assert (server.stats.requests_in, server.stats.errors) == (1, 1)


async def test_a_handler_refusal_is_answered_and_counted() -> None:
    server = Recorder()
    server.handle_deregister = server.refuse  # type: ignore[method-assign,assignment]
    site = LwM2MSite(server)
    response = await _render(site, Code.DELETE, ("rd", "r9"))
    assert (response.code, response.payload) == (Code.NOT_FOUND, b"no registration r9")
    assert server.stats.errors == 1


async def test_a_long_reason_is_cut_to_512_bytes() -> None:
    server = Recorder()
    site = LwM2MSite(server)
    response = await _render(site, Code.POST, ("x" * 600,))
    assert response.code == Code.NOT_FOUND
    assert response.payload == ("no resource at /" + "x" * 600).encode()[:512]
    assert len(response.payload) == 512
