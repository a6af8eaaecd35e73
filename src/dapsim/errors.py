"""Errors that carry one clear line for the user.

Bad input (a scenario, a target file, a command-line argument) must end in one line that names the file, the
key, what was expected and what was found, so that the CLI can print it and exit with code 2 without a
traceback. Everything else is an internal error (exit 1).
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a file, a key, what was expected, what was found.

    Args:
        source: the file (or command-line argument) the bad value came from.
        key: the dotted key inside it, e.g. ``levers.port_scanning.target``; empty for the whole file.
        expected: what a valid value looks like.
        got: what was found, already formatted for the reader.
    """

    def __init__(self, source: str, key: str, expected: str, got: str):
        self.source = str(source)
        self.key = key
        self.expected = expected
        self.got = got
        super().__init__(self.line())

    def line(self) -> str:
        """The one line the CLI prints."""
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{where}: expected {self.expected}, got {self.got}"


class ScenarioError(InputError):
    """A scenario file that cannot be run as written."""


def reject_unknown_keys(table, allowed, source: str, prefix: str = "", error: type[InputError] = InputError) -> None:
    """Raise ``error`` naming the first key of ``table`` not in ``allowed`` (a misspelt key must not pass silently).

    Args:
        table: the parsed TOML table.
        allowed: the keys it may have, in the order the message lists them.
        source: the file it came from.
        prefix: the dotted path of the table with a trailing dot (``levers.oat_capacity[0].``), empty at top level.
        error: the error class to raise (:class:`ScenarioError` for scenario files).
    """
    for k in table:
        if k not in allowed:
            raise error(source, f"{prefix}{k}", f"one of the keys {', '.join(allowed)}", f"unknown key {k!r}")
