"""The one exception type that means "the caller's input is wrong", shared by every stage.

Readers, configs and loaders raise :class:`InputError` (or a subclass such as
:class:`prmkit.io._jsonl.FormatError`) when a file, record, field, flag or name is wrong, with a
message that names it and the fix. The CLI turns exactly these into a one-line message and exit code
2, so anything else that escapes a command is a bug and still shows its traceback. It subclasses
``ValueError`` so existing ``except ValueError`` callers keep working. Nothing here imports anything.
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input (file, record, field, flag, name); the message names the culprit and the fix."""
