"""Loud canary: everything coap_internals.py takes from aiocoap beyond its documented API is
still where it was. A new aiocoap release that moves any of it fails here first, by name,
instead of failing somewhere deep in the server."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
from pathlib import Path

import aiocoap
import pytest
from aiocoap import messagemanager, protocol, tokenmanager
from aiocoap.transports import udp6

from custom_components.lwm2m.lwm2m import coap_internals

MANIFEST = Path(__file__).resolve().parents[2] / "custom_components" / "lwm2m" / "manifest.json"


def test_the_pinned_aiocoap_is_the_one_installed() -> None:
    """The internals below were read in this release; a new pin means reading them again."""
    pinned = next(r for r in json.loads(MANIFEST.read_text())["requirements"] if r.startswith("aiocoap=="))
    assert importlib.metadata.version("aiocoap") == pinned.partition("==")[2] == "0.4.17"


def test_duplicate_detection_internals() -> None:
    manager = messagemanager.MessageManager.__init__
    assert "_recent_messages" in inspect.getsource(manager)
    assert callable(messagemanager.MessageManager._deduplicate_message)
    assert callable(messagemanager.MessageManager._send_initially)
    # the window replaces the method the manager calls for every incoming request
    assert "self._deduplicate_message(" in inspect.getsource(messagemanager.MessageManager)


def test_receive_callbacks_of_the_udp6_transport() -> None:
    for name in ("datagram_msg_received", "datagram_errqueue_received"):
        assert callable(getattr(udp6.MessageInterfaceUDP6, name)), name
    assert "Ignoring unparsable message from %s" in inspect.getsource(udp6)  # what MalformedCounter folds


def test_the_log_lines_malformed_counter_folds() -> None:
    """Each is one line per datagram in aiocoap; MalformedCounter counts (or demotes) them by their text."""
    from aiocoap import pipe

    sources = "".join(inspect.getsource(m) for m in (udp6, messagemanager, tokenmanager, pipe))
    for template in [*coap_internals._MALFORMED_WARNINGS, *coap_internals._PER_DATAGRAM_INFO]:
        assert template in sources.replace('"\n' + " " * 16 + '"', ""), template


def test_tokens_and_requests() -> None:
    assert callable(tokenmanager.TokenManager.next_token)
    assert callable(tokenmanager.TokenManager.request)
    # every request's token comes from the manager's next_token, looked up on the instance,
    # where prepare_context puts random_token (and request_with_token a one-off token)
    assert "msg.token = self.next_token()" in inspect.getsource(tokenmanager.TokenManager.request)
    assert list(inspect.signature(protocol.Request.__init__).parameters)[:4] == ["self", "pipe", "loop", "log"]
    assert callable(aiocoap.Context.request)


def test_block1_reassembly_and_sends() -> None:
    """A resource reassembles Block1 uploads in its _block1 spool and splits answers with its _block2
    cache (both replaced by use_blockwise); a
    failed sendmsg is handed to error_received, which blames the remote being sent to."""
    from aiocoap import interfaces
    from aiocoap.util.asyncio import recvmsg

    assert "self._block1.feed_and_take(req)" in inspect.getsource(interfaces.Resource._render_to_pipe)
    assert "self._block1 = Block1Spool()" in inspect.getsource(interfaces.Resource.__init__)
    assert "self._block2 = Block2Cache()" in inspect.getsource(interfaces.Resource.__init__)
    assert "self._block2.extract_or_insert(req, lambda: self.render(req))" in inspect.getsource(
        interfaces.Resource._render_to_pipe
    )
    sendmsg = inspect.getsource(recvmsg.RecvmsgSelectorDatagramTransport.sendmsg)
    assert "self._protocol.error_received(exc)" in sendmsg
    assert "self._remote_being_sent_to.get()" in inspect.getsource(udp6.MessageInterfaceUDP6.error_received)


def test_icmp_errors_and_a_devices_broken_answers() -> None:
    """The token manager's dispatch_error is replaced (each request failed on its own); the
    lines about a device's broken answer that MalformedCounter demotes are aiocoap's."""
    source = inspect.getsource(tokenmanager.TokenManager.dispatch_error)
    assert "request.add_exception(" in source and "self.incoming_requests.items()" in source
    assert "self.outgoing_requests is None" in source
    assert "self.token_manager.dispatch_error(error, remote)" in inspect.getsource(
        messagemanager.MessageManager.dispatch_error
    )
    protocol_source = inspect.getsource(protocol)
    flat = " ".join(line.strip().strip('"') for line in protocol_source.splitlines())
    for template in coap_internals._DEVICE_ANSWER_LINES:
        assert template.replace(". ", ".") in flat.replace('" "', "").replace(". ", "."), template
    assert 'getChild("blockwise-requester")' in protocol_source
    assert "An exception that is not an aiocoap Error was raised" in protocol_source
    assert "request.add_exception(error.MessageError)" in inspect.getsource(tokenmanager)


def test_observation_callbacks() -> None:
    for name in ("register_callback", "register_errback"):
        parameters = inspect.signature(getattr(protocol.ClientObservation, name)).parameters
        assert "_suppress_deprecation" in parameters, name
    assert "lossy" in inspect.getsource(protocol.ClientObservation._Iterator)  # why callbacks, not async for


@pytest.mark.parametrize("name", ["prepare_context", "request_with_token", "on_notifications", "random_token"])
def test_the_one_module_offers_them(name: str) -> None:
    assert callable(getattr(coap_internals, name))


async def test_prepare_context_finds_what_it_patches(udp: None) -> None:
    """The chain request interface -> token manager -> message interface -> socket is there."""
    context = await aiocoap.Context.create_server_context(None, bind=("::1", 0), transports=["udp6"])
    try:
        dedup, port = coap_internals.prepare_context(context, dedup_max=10)
        assert dedup is not None and port > 0
        manager = context.request_interfaces[0].token_interface
        assert manager._deduplicate_message is dedup and manager._recent_messages == {}
        assert context.request_interfaces[0].next_token is coap_internals.random_token
        transport = manager.message_interface.transport
        assert transport.sendmsg.__qualname__.startswith("_resend_past_pending_errors")
    finally:
        await context.shutdown()


def test_the_read_callback_the_notification_reader_replaces() -> None:
    """aiocoap's add_reader callback looks _read_ready up on the transport each time (so an
    instance attribute takes its place); the original reads the error queue, then one datagram."""
    from aiocoap.util.asyncio import recvmsg

    init = inspect.getsource(recvmsg.RecvmsgSelectorDatagramTransport.__init__)
    assert "s()._read_ready()" in init
    read = inspect.getsource(recvmsg.RecvmsgSelectorDatagramTransport._read_ready)
    assert "socknumbers.MSG_ERRQUEUE" in read and "self._protocol.datagram_msg_received(" in read
    assert "self._protocol.datagram_errqueue_received(" in read


def test_exchanges_in_flight_and_the_backlog() -> None:
    """The manager keeps exchanges in _active_exchanges by (remote, message ID) and scans them in
    _continue_backlog; the replacement counts them per remote and must behave the same."""
    source = inspect.getsource(messagemanager.MessageManager._continue_backlog)
    assert "while not any(r == remote for r, mid in self._active_exchanges.keys()):" in source
    assert "self._backlogs[remote].pop(0)" in source and "self._send_initially(" in source
    manager_source = inspect.getsource(messagemanager.MessageManager)
    assert "self._active_exchanges[key] = (" in manager_source
    assert "self._active_exchanges.pop(key)" in manager_source
    assert "self._active_exchanges = None" in manager_source

    exchanges = coap_internals._Exchanges({("a", 1): 1})
    exchanges[("a", 2)] = 2
    exchanges[("a", 2)] = 3  # replaced, not counted twice
    exchanges[("b", 1)] = 4
    assert exchanges.remotes == {"a": 2, "b": 1}
    assert exchanges.pop(("a", 1)) == 1 and exchanges.pop(("a", 9), None) is None
    del exchanges[("b", 1)]
    assert exchanges.remotes == {"a": 1}
    exchanges.pop(("a", 2))
    assert exchanges.remotes == {} and exchanges == {}


def test_the_backlog_of_a_remote_is_started_once_its_exchanges_end() -> None:
    sent: list[str] = []
    manager = type("Manager", (), {})()
    manager._backlogs = {"a": [("m1", None), ("m2", None)]}
    exchanges = manager._active_exchanges = coap_internals._Exchanges({("a", 1): None, ("b", 1): None})

    def send_initially(message: str, _monitor: object) -> None:  # a CON: an exchange until answered
        sent.append(message)
        exchanges[("a", message)] = None

    manager._send_initially = send_initially
    coap_internals._continue_backlog(manager, "a")
    assert sent == []  # an exchange to a is still in flight
    exchanges.pop(("a", 1))
    coap_internals._continue_backlog(manager, "a")
    assert sent == ["m1"]  # one at a time
    exchanges.pop(("a", "m1"))
    coap_internals._continue_backlog(manager, "a")
    assert sent == ["m1", "m2"]
    exchanges.pop(("a", "m2"))
    coap_internals._continue_backlog(manager, "a")
    assert "a" not in manager._backlogs  # worked off
    with pytest.raises(AssertionError):
        coap_internals._continue_backlog(manager, "a")


def test_address_texts_are_aiocoaps_own() -> None:
    import socket

    assert callable(udp6.UDP6EndpointAddress._strip_v4mapped) and callable(udp6.UDP6EndpointAddress._repr_pktinfo)
    assert '"Rendering for %r" % pipe.request' in inspect.getsource(protocol)  # why they are cached
    pktinfo = udp6._in6_pktinfo.pack(socket.inet_pton(socket.AF_INET6, "::ffff:127.0.0.1"), 1)
    address = udp6.UDP6EndpointAddress(
        ("::ffff:10.0.0.7", 5000, 0, 0), object.__new__(udp6.MessageInterfaceUDP6), pktinfo=pktinfo
    )
    before = repr(address)
    coap_internals.cache_address_texts()
    assert (
        repr(address) == before == f"<UDP6EndpointAddress 10.0.0.7:5000 (locally 127.0.0.1%{socket.if_indextoname(1)})>"
    )
    assert udp6.UDP6EndpointAddress._strip_v4mapped("2001:db8:0::1") == "2001:db8::1"


def test_answers_kept_for_duplicates_hold_a_budget_of_large_payloads() -> None:
    from aiocoap import Message as CoapMessage

    from custom_components.lwm2m.lwm2m.coap_internals import ANSWER_OVERHEAD, _Answers

    answers = _Answers(3 * (1024 + ANSWER_OVERHEAD) - 1)
    answers["small"] = CoapMessage(payload=b"ok")
    for i in range(5):
        answers[i] = None  # the request arrives ...
        answers[i] = CoapMessage(payload=bytes(1024))  # ... and its answer is kept
    # the oldest large answers went with their requests (a retransmission is answered anew)
    assert sorted(k for k in answers if k != "small") == [3, 4] and answers.held == 2 * (1024 + ANSWER_OVERHEAD)
    assert answers["small"].payload == b"ok"
