"""DTLS 1.2 for CoAP (coaps://) on OpenSSL through pyOpenSSL, which Home Assistant ships.

records.py splits flights into datagrams, contexts.py builds OpenSSL contexts (PSK,
certificates, cookies), session.py runs one DTLS association over memory BIOs, and
interface.py is the aiocoap message interface on one UDP socket, server and client.
"""
