"""A fuzz campaign that stays (issue #13): seeded generators of hostile inputs for the decoders
and of hostile datagrams for a running server, and the campaigns that feed them.

- mutate.py: byte-level and structural mutations of valid encodings, random bytes.
- corpus.py: valid encodings of real values in every content format, and valid EMQX messages.
- decoders.py: the decoder campaign (anything but CodecError/EmqxError is a finding).
- coap.py: valid CoAP datagrams a device sends (Register, Update, Send, Block1, answers).
- datagrams.py: the datagram campaign against a real LwM2MServer with a legitimate device.
- campaign.py: the command line (scripts/fuzz) that runs both and prints what they found.
"""
