"""LwM2M protocol core: value model, codecs, object model. Never imports Home Assistant."""
