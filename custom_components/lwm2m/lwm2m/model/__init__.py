"""The OMA LwM2M object model: definitions parsed from XML and the bundled compact model."""

from .definitions import ObjectDefinition, Operations, ResourceDefinition
from .registry import ObjectModel
from .xml import parse_object_file, parse_object_xml

__all__ = [
    "ObjectDefinition",
    "ObjectModel",
    "Operations",
    "ResourceDefinition",
    "parse_object_file",
    "parse_object_xml",
]
