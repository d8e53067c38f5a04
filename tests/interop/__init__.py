"""Interoperability tests against LwM2M implementations we did not write."""
