"""Findings the campaigns know about: product bugs not fixed yet, each with a reproducer in
test_fuzz_short.py marked xfail(strict=True), so that the reproducer flips when the bug is
fixed (and then its entry here goes too).

An entry matches a finding by its kind and a piece of text that names where it happens
(file and function, not the line: lines move as the product changes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Known:
    name: str  # the reproducer test's name in test_fuzz_short.py (or why there is none)
    kind: str  # the finding's kind: "long-message", "exception", "api", "log", ...
    where: str  # a piece of the finding's key or frame
    why: str


KNOWN = (
    Known(
        "test_a_huge_senml_cbor_label_raises_codec_error",
        "long-message",
        "senml_cbor.py",
        "codecs/senml_cbor.py _from_cbor: the same {key!r} repeats a long byte-string or array key whole",
    ),
    Known(
        "test_a_huge_senml_cbor_label_raises_codec_error",
        "exception",
        "senml_cbor.py",
        "codecs/senml_cbor.py _from_cbor: CodecError(f'unknown SenML CBOR label {key!r}') takes the "
        "repr of a map key that is an integer of more than 4,300 digits (a CBOR bignum), and repr "
        "raises ValueError, which escapes the decoder (a Send or a notification in SenML CBOR)",
    ),
    Known(
        "test_path_error_message_is_bounded",
        "long-message",
        "lwm2m/path.py",
        "path.py _parse: PathError repeats the whole path text ({text!r} and {part!r}): a 1 KB path "
        "gives a 2 KB message (a 250 KB EMQX path, 750 KB); errors.shown() bounds the others",
    ),
    Known(
        "test_emqx_error_messages_are_bounded",
        "long-message",
        "emqx/codec.py",
        "emqx/codec.py: Command.decode (unknown msgType {msg_type!r}), _path ({text!r} around the "
        "PathError's text) and _lifetime ({value!r}) put the whole offending value into the error, "
        "which goes back to the broker in the response",
    ),
    Known(
        "test_link_attribute_error_message_is_bounded",
        "long-message",
        "link_format.py",
        "codecs/link_format.py _attr_value: an attribute value that is no number is repeated whole",
    ),
    Known(
        "test_a_broken_block2_answer_raises_operation_error",
        "api",
        "AssertionError",
        "client.py Endpoint._request awaits request.response catching only TimeoutError and "
        "aiocoap's Error: a device's Block2 answer whose next block does not continue the body "
        "makes aiocoap fail an assert (message.py _generate_next_block2_request), and the "
        "AssertionError escapes read/execute/observe instead of an OperationError",
    ),
    Known(
        "test_a_broken_block2_answer_logs_no_error",
        "log",
        "blockwise-requester",
        "aiocoap logs at ERROR level (logger coap-server.<port>.blockwise-requester, protocol.py "
        "_complete_by_requesting_block2) for every Block2 answer of a device that does not fit "
        "('Error assembling blockwise response', 'expected first block'): any device on the LAN "
        "writes ERROR lines at will; coap_internals.MalformedCounter does not count these",
    ),
    Known(
        "no deterministic reproducer yet (seen once in 200,000 datagrams, seed 13)",
        "log",
        "dispatch_error",
        "coap_internals.py _quiet_errors wraps datagram_errqueue_received to keep InvalidStateError "
        "in, but aiocoap (transports/udp6.py datagram_errqueue_received) catches it first and logs "
        "'Exception raised through dispatch_error' at ERROR with a traceback: a request whose caller "
        "timed out (its response future cancelled) is retransmitted, the device's port is closed, "
        "the ICMP error sets an exception on the cancelled future",
    ),
)


def known(kind: str, text: str) -> Known | None:
    """The known bug a finding of kind, described by text, is; None for a new one."""
    for entry in KNOWN:
        if entry.kind == kind and entry.where in text:
            return entry
    return None
