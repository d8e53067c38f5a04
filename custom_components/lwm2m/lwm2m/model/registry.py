"""The object model in use: the bundled compact model, extended by a user's XML folder."""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cache
from pathlib import Path as FsPath

from ..errors import CodecError, ModelError, shown
from ..path import Path
from ..values import DataType, ObjLnk, Value, coerce
from .definitions import ObjectDefinition, ResourceDefinition
from .xml import parse_object_file

_LOGGER = logging.getLogger(__name__)
BUNDLED = FsPath(__file__).with_name("objects.json")


@cache
def _bundled() -> dict[int, ObjectDefinition]:
    data = json.loads(BUNDLED.read_text(encoding="utf-8"))
    return {int(oid): ObjectDefinition.from_dict(int(oid), obj) for oid, obj in data["objects"].items()}


class ObjectModel:
    """Looks up object and resource definitions; unknown ones are simply None."""

    def __init__(self, definitions: Iterable[ObjectDefinition] | None = None, *, bundled: bool = True) -> None:
        """Hold the bundled definitions (unless told not to) overridden by definitions."""
        self._objects: dict[int, ObjectDefinition] = dict(_bundled()) if bundled else {}
        for definition in definitions or ():
            self._objects[definition.id] = definition

    @classmethod
    def with_folder(cls, folder: str | FsPath | None) -> tuple[ObjectModel, list[str]]:
        """Load the bundled model overridden by every *.xml in folder; also return the problems met."""
        model = cls()
        problems: list[str] = []
        if folder:
            base = FsPath(folder)
            if not base.is_dir():
                return model, [f"{base} is not a folder"]
            for file in sorted(base.glob("*.xml")):
                try:
                    model.add(parse_object_file(file))
                except ModelError as err:
                    _LOGGER.warning("Skipping object definition file: %s", err)
                    problems.append(str(err))
        return model, problems

    def add(self, definitions: Iterable[ObjectDefinition]) -> None:
        """Add definitions, replacing any of the same object id."""
        for definition in definitions:
            self._objects[definition.id] = definition

    def object(self, object_id: int | None) -> ObjectDefinition | None:
        """Return the definition of an object, if there is one."""
        return self._objects.get(object_id) if object_id is not None else None

    def typed(self, path: Path, value: builtins.object) -> Value:
        """Return value as the resource at path takes it (values.coerce by the model's type).

        A resource the model does not describe (or an executable one) keeps a typed value as
        it is; the device decides.
        """
        rdef = self.resource(path)
        if rdef is not None and rdef.type is not DataType.NONE:
            try:
                return coerce(value, rdef.type)
            except CodecError as err:
                raise CodecError(f"{path}: {err}") from None
        if isinstance(value, (bool, int, float, str, bytes, datetime, ObjLnk)):
            return value
        raise CodecError(f"{path}: {shown(value)} is not a value this resource can take")

    def resource(self, path: Path | tuple[int, int]) -> ResourceDefinition | None:
        """Look up the definition of the resource at (or above) a resource path."""
        if isinstance(path, Path):
            if len(path.ids) < 3:
                return None
            oid, rid = path.ids[0], path.ids[2]
        else:
            oid, rid = path
        obj = self._objects.get(oid)
        return obj.resources.get(rid) if obj else None

    def __contains__(self, object_id: builtins.object) -> bool:
        """Return whether an object is defined."""
        return object_id in self._objects

    def __iter__(self) -> Iterator[ObjectDefinition]:
        """Iterate over the definitions by object id."""
        return iter(sorted(self._objects.values(), key=lambda o: o.id))

    def __len__(self) -> int:
        """Return how many objects are defined."""
        return len(self._objects)
