"""DTLS record framing and credential parsing: properties over any input (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.lwm2m.lwm2m.dtls.records import RECORD_HEADER, is_client_hello, split_flight
from custom_components.lwm2m.lwm2m.security.credentials import (
    Credential,
    CredentialError,
    Credentials,
    hex_key,
    parse_psk_argument,
)

records = st.binary(max_size=1500).map(lambda body: b"\x16\xfe\xfd" + bytes(8) + len(body).to_bytes(2, "big") + body)


@given(st.lists(records, max_size=12), st.integers(min_value=64, max_value=1500))
def test_a_flight_splits_at_record_boundaries_within_the_mtu(flight: list[bytes], mtu: int) -> None:
    datagrams = split_flight(b"".join(flight), mtu)
    assert b"".join(datagrams) == b"".join(flight)
    for datagram in datagrams:
        # whole records only; more than one record only where they fit
        position, count = 0, 0
        while position < len(datagram):
            position += RECORD_HEADER + int.from_bytes(datagram[position + 11 : position + 13], "big")
            count += 1
        assert position == len(datagram)
        assert len(datagram) <= mtu or count == 1


@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=2000))
def test_any_bytes_split_without_loss(data: bytes, mtu: int) -> None:
    assert b"".join(split_flight(data, mtu)) == data
    is_client_hello(data)  # never raises


def test_a_client_hello_is_told_from_other_records() -> None:
    hello = b"\x16\xfe\xff\x00\x00" + bytes(6) + b"\x00\x10" + b"\x01" + bytes(15)
    assert is_client_hello(hello)
    assert not is_client_hello(b"\x16\xfe\xfd\x00\x01" + hello[5:])  # epoch 1: inside a session
    assert not is_client_hello(b"\x17" + hello[1:])  # application data
    assert not is_client_hello(hello[:RECORD_HEADER])


@given(st.dictionaries(st.sampled_from(["endpoint", "mode", "identity", "key", "certificate"]), st.from_type(object)))
def test_any_json_object_is_a_credential_or_a_clear_error(data: dict[str, Any]) -> None:
    try:
        credential = Credential.from_dict(data)
    except CredentialError as err:
        assert str(err)
        return
    assert Credential.from_dict(credential.to_dict()) == credential


@given(st.text(max_size=80))
def test_any_psk_argument_is_a_credential_or_a_clear_error(text: str) -> None:
    try:
        credential = parse_psk_argument(text)
    except CredentialError as err:
        assert str(err)
        return
    assert credential.mode == "psk" and 8 <= len(credential.psk_key) <= 64


@pytest.mark.parametrize(
    ("text", "key"),
    [("000102030405060708090a0b0c0d0e0f", bytes(range(16))), ("0x00:01:02:03 04:05:06:07", bytes(range(8)))],
)
def test_hex_keys_are_read_with_common_separators(text: str, key: bytes) -> None:
    assert hex_key(text) == key


def test_credentials_refuse_two_devices_with_one_identity_and_redact_keys() -> None:
    first = Credential("a", "psk", psk_identity="id", psk_key=bytes(16))
    with pytest.raises(CredentialError, match="share a security identity"):
        Credentials([first, Credential("b", "psk", psk_identity="id", psk_key=bytes(16))])
    with pytest.raises(CredentialError, match="two credentials"):
        Credentials([first, Credential("a", "psk", psk_identity="other", psk_key=bytes(16))])
    held = Credentials([first, Credential("n", "nosec")])
    assert held.secured("a") and not held.secured("n") and not held.secured("unknown")
    assert held.endpoint_of("psk:id") == "a" and held.psk_key(b"id") == bytes(16)
    assert held.to_list(redact=True)[0]["key"] == "**REDACTED**"
    assert "psk_key" not in repr(first)  # keys stay out of logs and tracebacks


def test_device_certificates_need_an_ecdsa_p256_key() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from custom_components.lwm2m.lwm2m.security.credentials import certificate_der

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa-device")])
    import datetime

    now = datetime.datetime.now(datetime.UTC)
    rsa_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    with pytest.raises(CredentialError, match="ECDSA on P-256") as caught:
        certificate_der(rsa_cert)
    assert caught.value.field == "certificate"


def test_saved_credentials_that_cannot_be_read_are_skipped_not_fatal() -> None:
    held, problems = Credentials.readable(
        [
            {"endpoint": "good", "mode": "psk", "identity": "g", "key": "00" * 16},
            {"endpoint": "bad", "mode": "psk", "identity": "b", "key": "zz"},
            "not even an object",
        ]
    )
    assert [c.endpoint for c in held] == ["good"]
    assert len(problems) == 2 and problems[0].startswith("bad: ")


def test_identities_and_binding_problems_read_as_sentences() -> None:
    from custom_components.lwm2m.lwm2m.security.admission import binding_problem
    from custom_components.lwm2m.lwm2m.security.credentials import psk_identity

    assert psk_identity(b"dev\xff") == "psk:dev\\xff"  # any bytes a handshake names
    held = Credentials([Credential("a", "psk", psk_identity="id", psk_key=bytes(16))])
    assert binding_problem(held, "a", "psk:id") is None
    assert binding_problem(held, "b", None) is None
    assert (
        binding_problem(held, "a", None) == "a has a credential: it registers over coaps:// with it, not over plain UDP"
    )
    assert binding_problem(held, "b", "psk:id") == "psk:id may register as a, not as b"
    assert binding_problem(held, "a", "psk:gone") == "psk:gone is no longer any device's credential, not as a"


def test_the_bootstrap_writes_in_the_format_the_device_prefers() -> None:
    from custom_components.lwm2m.lwm2m.codecs import ContentFormat
    from custom_components.lwm2m.lwm2m.security.bootstrap import _preferred

    assert _preferred(None) == ContentFormat.TLV
    assert _preferred("112") == ContentFormat.SENML_CBOR
    assert _preferred("110") == ContentFormat.SENML_JSON
    assert _preferred("0") == ContentFormat.TLV  # text cannot carry an instance
    assert _preferred("not a number") == ContentFormat.TLV
