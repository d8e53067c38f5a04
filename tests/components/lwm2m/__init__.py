"""Tests of the lwm2m integration inside Home Assistant."""
