"""Findings the campaigns know about: product bugs not fixed yet, each with a reproducer in
test_fuzz_short.py marked xfail(strict=True), so that the reproducer flips when the bug is
fixed (and then its entry here goes too).

An entry matches a finding by its kind and a piece of text that names where it happens
(file and function, not the line: lines move as the product changes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Known:
    name: str  # the reproducer test's name in test_fuzz_short.py (or why there is none)
    kind: str  # the finding's kind: "long-message", "exception", "api", "log", ...
    where: str  # a piece of the finding's key or frame
    why: str


KNOWN: tuple[Known, ...] = ()  # none: the findings of the first long run are fixed (issue #13)


def known(kind: str, text: str) -> Known | None:
    """The known bug a finding of kind, described by text, is; None for a new one."""
    for entry in KNOWN:
        if entry.kind == kind and entry.where in text:
            return entry
    return None
