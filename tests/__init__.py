"""Tests of the LwM2M integration."""
