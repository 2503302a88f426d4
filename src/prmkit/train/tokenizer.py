"""A character-level tokenizer built locally with the ``tokenizers`` library.

Why: prmkit's tiny policies must train without downloading anything, and a character-level
vocabulary makes every digit its own token (so arithmetic is learnable by a 1M-parameter model)
and the step separator ``"\\n"`` a single token. The result is a ``PreTrainedTokenizerFast``
saved with ``save_pretrained``, so a checkpoint directory loads with ``AutoTokenizer`` like any
hub model.

Layout of the vocabulary: ``[PAD]=0, [BOS]=1, [EOS]=2, [UNK]=3``, then one id per character of
``alphabet``, then the ``phrases`` (whole strings such as ``"The answer is "`` that become one
token each, saving the policy from spelling them out). Encoding adds ``[BOS]`` in front.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = ["DEFAULT_ALPHABET", "SPECIAL_TOKENS", "build_char_tokenizer"]

#: Printable ASCII (letters, digits, punctuation, space) plus the newline step separator and ×/÷.
DEFAULT_ALPHABET = "\n" + "".join(c for c in string.printable if c not in "\t\n\r\x0b\x0c") + "×÷"
SPECIAL_TOKENS = {"pad_token": "[PAD]", "bos_token": "[BOS]", "eos_token": "[EOS]", "unk_token": "[UNK]"}


def build_char_tokenizer(
    alphabet: str = DEFAULT_ALPHABET, phrases: Sequence[str] = ("The answer is ",)
) -> PreTrainedTokenizerFast:
    """Build the character-level tokenizer.

    Args:
        alphabet: every character that gets its own token (duplicates are ignored); anything else
            encodes to ``[UNK]``.
        phrases: strings encoded as one token each wherever they occur (matched before splitting
            into characters).

    Returns:
        A ``PreTrainedTokenizerFast`` with pad/bos/eos/unk set, left padding (for batched
        generation), no clean-up of spaces on decode (decode(encode(s)) == s), and ``[BOS]``
        prepended to every encoded text.

    Example:
        >>> tok = build_char_tokenizer()
        >>> ids = tok("12+5=17\\nThe answer is 17.")["input_ids"]
        >>> tok.convert_ids_to_tokens(ids)[:4], len(ids), tok.decode(ids, skip_special_tokens=True)
        (['[BOS]', '1', '2', '+'], 12, '12+5=17\\nThe answer is 17.')
    """
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    specials = list(SPECIAL_TOKENS.values())
    vocab: dict[str, int] = {token: i for i, token in enumerate(specials)}
    for char in alphabet:
        vocab.setdefault(char, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    bos = SPECIAL_TOKENS["bos_token"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, vocab[bos])]
    )
    tokenizer.add_special_tokens(specials)
    tokenizer.add_tokens([p for p in phrases if p not in vocab])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        **SPECIAL_TOKENS,
    )
