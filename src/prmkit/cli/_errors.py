"""The single place where a command's user errors become a one-line message and exit code 2.

Every ``prmkit`` sub-command runs inside :class:`RootGroup`'s ``invoke``. Exceptions that mean
"the input is wrong" -- :class:`prmkit._errors.InputError` (``FormatError``, ``UserError`` ...),
registry misses (:class:`prmkit._registry.UnknownNameError`) and missing / unreadable / misplaced
files -- print ``error: <message>`` on one line and exit with 2, click's own code for a bad command
line. Any other exception is a bug in prmkit and keeps its traceback. Commands therefore do not
catch errors themselves; they raise (or :func:`prmkit.cli._common.fail`) with a message that names
the file:line, record id, flag and the valid choices.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

from prmkit._errors import InputError
from prmkit._registry import UnknownNameError

__all__ = ["EXIT_USER_ERROR", "RootGroup", "UserError", "USER_ERRORS", "describe"]

#: Exit status of a command stopped by a user error (same as click's usage errors).
EXIT_USER_ERROR = 2


class UserError(InputError):
    """A mistake on the command line (a flag, a path, a combination); the message names the flag."""


#: What counts as the user's mistake rather than prmkit's.
USER_ERRORS: tuple[type[BaseException], ...] = (
    InputError, UnknownNameError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError,
)


def describe(err: BaseException) -> str:
    """The error as one line: ``"<file>: <reason>"`` for file errors, else the message with its line breaks folded."""
    if isinstance(err, OSError) and err.filename is not None:
        return f"{err.filename}: {err.strerror or err}"
    return " ".join(str(err).split())


class RootGroup(TyperGroup):
    """The ``prmkit`` group: runs the chosen sub-command and reports user errors (see the module docstring)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as err:
            from prmkit.cli._common import console

            console.print("[red]error:[/red] ", end="")
            console.print(describe(err), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_USER_ERROR) from None
