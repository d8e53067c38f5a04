"""Firmware updates (object 5): images on disk, block-wise push, Block2 downloads, the update procedure."""
