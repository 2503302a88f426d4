"""Split a policy's response into steps at the token level, and the text steps a PRM scores.

RL needs to know *which token* ends each step, because that is where the step's reward goes. The
rule (PURE's): a step ends at any token whose decoded text ends with the separator (default
``"\\n\\n"``) — tokenizers often merge the blank line with neighbouring text (``".\\n\\n"``), so
matching token ids of ``tokenizer.encode("\\n\\n")`` alone would miss step ends. The last token of
the response ends the final step even without a separator.

The PRM is then given the step *texts* (without the policy's separator); its own input format
(:mod:`prmkit.models.formats`) joins them with the PRM's separator, so a policy writing blank lines
can be scored by a PRM trained on ``"ки\\n"`` or ``"<extra_0>"`` without any re-tokenization here.

Example:
    >>> split = split_text("2+3=5\\n\\n5*2=10\\n\\nThe answer is 10")
    >>> split
    ['2+3=5', '5*2=10', 'The answer is 10']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TokenSteps", "separator_token_ids", "split_text", "split_tokens"]

DEFAULT_SEPARATOR = "\n\n"


@dataclass
class TokenSteps:
    """One response split into steps at the token level.

    Attributes:
        steps: the text of each step, stripped, separator removed, all non-empty.
        ends: for each step, the index (within the response tokens) of its last token; strictly
            increasing, the last one is the response's last token.
        num_tokens: tokens in each step, counting its end token. Tokens of an empty span (e.g. a
            leading blank line) count in the next step; trailing ones (e.g. an EOS token after the
            last separator) belong to no step, so ``sum(num_tokens)`` is at most the response length.
    """

    steps: list[str]
    ends: list[int]
    num_tokens: list[int]


def separator_token_ids(tokenizer: Any, separator: str = DEFAULT_SEPARATOR) -> frozenset[int]:
    """Ids of every vocabulary token whose decoded text ends with ``separator``.

    Decodes each id once, in one batch (about 1.5 s for Qwen2.5's 151k vocabulary on one CPU
    core); build it once per tokenizer and reuse it.

    Raises:
        ValueError: no token ends with ``separator`` (the policy can never end a step there).
    """
    if not separator:
        raise ValueError("separator must be a non-empty string")
    texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    ids = frozenset(i for i, text in enumerate(texts) if text.endswith(separator))
    if not ids:
        raise ValueError(
            f"no token of this tokenizer decodes to text ending with {separator!r}; "
            "pass the separator your policy actually writes between steps"
        )
    return ids


def split_tokens(
    token_ids: Sequence[int],
    tokenizer: Any,
    separator_ids: frozenset[int],
    separator: str = DEFAULT_SEPARATOR,
) -> TokenSteps:
    """Split one response's tokens (no prompt, no padding) into steps.

    A step ends at each token in ``separator_ids`` and at the last token. A span whose text is empty
    once the separator and whitespace are stripped (e.g. a response starting with a blank line)
    does not make a step of its own: its tokens join the next step.

    Args:
        token_ids: the response token ids, without padding.
        tokenizer: decodes spans of ids (``tokenizer.decode(ids, skip_special_tokens=True)``).
        separator_ids: from :func:`separator_token_ids`.
        separator: the text that ends a step.

    Returns:
        :class:`TokenSteps`; no steps at all when the whole response is blank.
    """
    ids = list(token_ids)
    steps: list[str] = []
    ends: list[int] = []
    num_tokens: list[int] = []
    start = 0
    for pos, token in enumerate(ids):
        if token not in separator_ids and pos != len(ids) - 1:
            continue
        text = tokenizer.decode(ids[start : pos + 1], skip_special_tokens=True)
        text = text.removesuffix(separator)
        text = text.strip()
        if text:
            steps.append(text)
            ends.append(pos)
            num_tokens.append(pos + 1 - (ends[-2] + 1 if len(ends) > 1 else 0))
            start = pos + 1
        # an empty span keeps `start`, so its tokens are decoded with (and counted in) the next step
    return TokenSteps(steps=steps, ends=ends, num_tokens=num_tokens)


def split_text(text: str, separator: str = DEFAULT_SEPARATOR) -> list[str]:
    """Split response text into stripped, non-empty steps at ``separator`` (for text-only adapters)."""
    if not separator:
        raise ValueError("separator must be a non-empty string")
    return [part.strip() for part in text.split(separator) if part.strip()]
