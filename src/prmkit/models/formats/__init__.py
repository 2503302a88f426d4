"""Input formats of the PRM families: one class (or function) per family, nothing else decides formats."""

from prmkit.models.formats._base import EncodedItem

__all__ = ["EncodedItem"]
