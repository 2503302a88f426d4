"""Read a checkpoint's tokenizer so that training and scoring tokenize alike.

transformers 5's ``AutoTokenizer`` picks the tokenizer class from ``config.json``'s model type, and
a Qwen2 config turns a character-level ``tokenizer.json`` into a byte-level Qwen2 tokenizer that
drops spaces and newlines. prmkit's trainers therefore read a directory with a ``tokenizer.json`` as
a plain ``PreTrainedTokenizerFast`` (:func:`load_tokenizer`: the file alone defines it), and the
scorers read every checkpoint prmkit wrote (it carries ``prmkit.json``) the same way
(:func:`checkpoint_tokenizer`) — otherwise a step's score could be read at other tokens than the
model was trained on. Hub checkpoints keep ``AutoTokenizer``, as their model cards assume.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["checkpoint_tokenizer", "load_tokenizer"]


def load_tokenizer(path: str | os.PathLike[str]) -> Any:
    """Load a checkpoint's tokenizer exactly as its files define it, with a pad token.

    A directory with a ``tokenizer.json`` is loaded as a plain ``PreTrainedTokenizerFast``;
    otherwise ``AutoTokenizer`` is used. A tokenizer without a pad token pads with EOS.

    Raises:
        ValueError: the tokenizer has neither a pad nor an EOS token (names the fix).
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if (Path(path) / "tokenizer.json").is_file():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path))
    else:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"tokenizer at {path} has no pad_token and no eos_token; add a pad token to it")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def checkpoint_tokenizer(tokenizer: Any, path: str | os.PathLike[str]) -> Any:
    """The tokenizer a scorer should use: ``tokenizer`` itself when it is an object, else loaded
    from ``tokenizer`` (a path) or ``path`` — with :func:`load_tokenizer` when that directory holds
    a prmkit-written checkpoint (``prmkit.json``), with ``AutoTokenizer`` otherwise.
    """
    if tokenizer is not None and not isinstance(tokenizer, (str, os.PathLike)):
        return tokenizer
    source = str(tokenizer or path)
    if (Path(source) / "prmkit.json").is_file():
        return load_tokenizer(source)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(source)
