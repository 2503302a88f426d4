"""The likelihood verifier: a causal LM's own token log-probabilities over each step, calibrated.

Why: a small LM knows which steps are wrong mainly in its next-token distribution (a wrong result
digit is a token it did not expect), not in a hidden state a classification head can read
(``benchmarks/prm_ceiling.py``). Reading that distribution needs no head and no labels:

    reduce="min"     x_k = min over step k's tokens of log p(token | prefix)
    reduce="mean"    x_k = mean over step k's tokens of log p(token | prefix)
    reduce="margin"  x_k = min over step k's tokens of log p(token) - max_{v != token} log p(v)
                     (< 0 where the model would have written another token)

and maps ``x_k`` to P(step k correct) with a stored logistic calibration ``sigmoid(slope * x +
intercept)`` (fitted by :func:`fit_calibration` on labelled validation steps, e.g. by ``prmkit train
verifier``). Without a calibration the map is the natural one: ``exp(x)`` for min / mean (the
probability of the least likely / the geometric-mean token) and ``sigmoid(x)`` for margin.

On an untrained policy this is the **self-certainty baseline** (no training, any Hugging Face
causal LM): every trained verifier must beat it. On a policy fine-tuned into a verifier (``prmkit
train verifier``) it is a likelihood PRM.

Input layout: :func:`prmkit.models.formats.implicit.encode_implicit` (``[BOS] question + "\\n"``,
then each step + ``"\\n"``), the arith policy's own layout. Checkpoint contract: ``DIR`` is a causal
LM; ``DIR/prmkit.json`` (optional) is ``{"family": "likelihood", "reduce": ..., "calibration":
{"slope": a, "intercept": b}}``.

    >>> scorer = load_scorer("likelihood", path="runs/verifier")          # doctest: +SKIP
    >>> scorer.score([("Q 2 +3", ["2+3=5", "The answer is 5."])])          # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prmkit.models.formats.implicit import ImplicitEncodedItem, encode_implicit
from prmkit.types import LabelledSolution, first_error_from_labels

__all__ = ["REDUCTIONS", "Calibration", "LikelihoodScorer", "calibrate_on_labels", "fit_calibration", "read_likelihood_config",
           "write_likelihood_config"]

REDUCTIONS = ("min", "mean", "margin")
CONFIG_FILE = "prmkit.json"
FAMILY = "likelihood"


@dataclass(frozen=True)
class Calibration:
    """``P = sigmoid(slope * x + intercept)``: a step feature mapped to P(step correct)."""

    slope: float
    intercept: float

    def __call__(self, x: float) -> float:
        z = self.slope * x + self.intercept
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _natural(reduce: str, x: float) -> float:
    """The uncalibrated map: a probability for log-prob reductions, a sigmoid for the margin."""
    return math.exp(x) if reduce != "margin" else Calibration(1.0, 0.0)(x)


def fit_calibration(features: Sequence[float], labels: Sequence[bool], l2: float = 1e-3, steps: int = 50) -> Calibration:
    """Logistic regression of ``labels`` on one feature (Newton's method, a small L2 on the slope).

    Raises:
        ValueError: fewer than two examples, or only one class (nothing to calibrate against).
    """
    import numpy as np

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(x) < 2 or y.min() == y.max():
        raise ValueError(f"fit_calibration needs both correct and wrong steps; got {len(x)} steps, {int(y.sum())} correct")
    scale = max(float(x.std()), 1e-6)  # fit on standardised x, so the L2 term is unit-free
    z = np.stack([(x - x.mean()) / scale, np.ones_like(x)], axis=1)
    w = np.zeros(2)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + l2 * np.array([w[0], 0.0])
        hessian = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.diag([1.0, 0.0]) + 1e-9 * np.eye(2)
        update = np.linalg.solve(hessian, gradient)
        w -= update
        if np.abs(update).max() < 1e-8:
            break
    slope = w[0] / scale
    return Calibration(slope=float(slope), intercept=float(w[1] - slope * x.mean()))


def read_likelihood_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``DIR/prmkit.json`` of a likelihood verifier (``{}`` when absent: an untrained LM).

    Raises:
        ValueError: the file is not JSON, or names another family.
    """
    file = Path(path) / CONFIG_FILE
    if not file.is_file():
        return {}
    try:
        config = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{file}: not valid JSON ({error})") from None
    if config.get("family", FAMILY) != FAMILY:
        raise ValueError(f"{file}: family is {config['family']!r}; load it with load_scorer({config['family']!r})")
    return config


def write_likelihood_config(path: str | os.PathLike[str], reduce: str, calibration: Calibration | None, **extra: Any) -> None:
    """Write ``DIR/prmkit.json`` so that ``load_scorer("likelihood", path=DIR)`` reads it as trained."""
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce={reduce!r}; choose one of {', '.join(REDUCTIONS)}")
    config = {"family": FAMILY, "reduce": reduce, "calibration": asdict(calibration) if calibration else None, **extra}
    (Path(path) / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")


class LikelihoodScorer:
    """P(step correct) from a causal LM's token log-probs over each step (see the module docstring).

    Args:
        path: a causal LM checkpoint directory or hub id (with or without ``prmkit.json``).
        reduce: ``"min"``, ``"mean"`` or ``"margin"``; default ``prmkit.json``'s, else ``"min"``.
        calibration: ``{"slope": a, "intercept": b}`` / :class:`Calibration`; default ``prmkit.json``'s;
            ``None`` there = the natural map. Pass ``calibrate=False`` to ignore a stored one.
        calibrate: apply the calibration (False: raw natural map, e.g. to fit a new calibration).
        backend: only ``"transformers"``.
        tokenizer / device / dtype / max_batch_tokens / max_length / truncation / progress: as in
            :class:`prmkit.models.backends.transformers.TransformersScorer`.

    Raises:
        ValueError: unknown reduction or backend, or a malformed ``prmkit.json``.
    """

    def __init__(
        self,
        path: str,
        reduce: str | None = None,
        calibration: Calibration | dict[str, float] | None = None,
        calibrate: bool = True,
        *,
        backend: str = "transformers",
        tokenizer: Any = None,
        device: str | None = None,
        dtype: str | None = None,
        max_batch_tokens: int | None = None,
        max_length: int | None = None,
        truncation: str = "error",
        progress: bool = True,
    ) -> None:
        import transformers

        from prmkit.models._tokenizer import checkpoint_tokenizer, load_tokenizer
        from prmkit.models.backends._loading import dtype_kwargs, resolve_device, resolve_dtype
        from prmkit.models.backends._truncation import check_truncation

        if backend != "transformers":
            raise ValueError(f"likelihood: backend={backend!r} is not supported; use backend='transformers'")
        check_truncation(truncation)
        config = read_likelihood_config(path) if os.path.isdir(path) else {}
        self.reduce = reduce or config.get("reduce", "min")
        if self.reduce not in REDUCTIONS:
            raise ValueError(f"likelihood: reduce={self.reduce!r}; choose one of {', '.join(REDUCTIONS)}")
        stored = calibration if calibration is not None else config.get("calibration")
        if isinstance(stored, dict):
            stored = Calibration(float(stored["slope"]), float(stored["intercept"]))
        self.calibration: Calibration | None = stored if calibrate else None
        device_name = resolve_device(device)
        dtype_name = resolve_dtype(dtype, device_name)
        # a local checkpoint with its own tokenizer.json (prmkit's policies and verifiers) is read as
        # that file defines it; hub ids keep AutoTokenizer, as their model cards assume
        local_file = tokenizer is None and (Path(path) / "tokenizer.json").is_file()
        tokenizer = load_tokenizer(path) if local_file else checkpoint_tokenizer(tokenizer, path)
        model = transformers.AutoModelForCausalLM.from_pretrained(path, **dtype_kwargs(dtype_name)).to(device_name)
        self._bind(model, tokenizer, device_name, max_batch_tokens, max_length)
        self.truncation = truncation
        self.progress = progress

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, reduce: str = "min", calibration: Calibration | None = None,
                   *, progress: bool = False) -> LikelihoodScorer:
        """A scorer over a model already in memory (e.g. a verifier being trained); same reading as a loaded one."""
        if reduce not in REDUCTIONS:
            raise ValueError(f"likelihood: reduce={reduce!r}; choose one of {', '.join(REDUCTIONS)}")
        scorer = cls.__new__(cls)
        scorer.reduce, scorer.calibration, scorer.truncation, scorer.progress = reduce, calibration, "error", progress
        scorer._bind(model, tokenizer, next(model.parameters()).device, None, None)
        return scorer

    def _bind(self, model: Any, tokenizer: Any, device: Any, max_batch_tokens: int | None, max_length: int | None) -> None:
        from prmkit.models.backends._loading import is_causal, resolve_batch_tokens

        self.model, self.tokenizer, self.device = model.eval(), tokenizer, device
        self.tokens_run = 0  # tokens run through the model (search budgets read it, as on the transformers backend)
        vocab = model.get_output_embeddings().weight.shape[0]
        self._causal = is_causal(getattr(model, model.base_model_prefix), vocab)
        self.max_batch_tokens = resolve_batch_tokens(max_batch_tokens, device)
        self.max_length = max_length or getattr(model.config, "max_position_embeddings", None)
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = pad if pad is not None and pad < vocab else 0

    def encode(self, question: str, steps: Sequence[str]) -> ImplicitEncodedItem:
        """:func:`~prmkit.models.formats.implicit.encode_implicit` with this scorer's tokenizer."""
        return encode_implicit(self.tokenizer, question, list(steps))

    def step_features(self, items: Sequence[tuple[str, Sequence[str]]], reduce: str | None = None) -> list[list[float | None]]:
        """The raw per-step feature ``x_k`` of ``reduce`` (default: this scorer's), None for dropped steps."""
        import torch

        from prmkit.models._logprobs import response_positions, token_log_probs
        from prmkit.models.backends._batching import pad_right, token_budget_batches
        from prmkit.models.backends._progress import progress_bar
        from prmkit.models.backends._truncation import encode_within

        reduce = reduce or self.reduce
        results: list[list[float | None]] = [[None] * len(steps) for _, steps in items]
        todo = [i for i, (_, steps) in enumerate(items) if steps]
        prepared = {i: encode_within(self.encode, i, items[i][0], items[i][1], self.max_length, self.truncation) for i in todo}
        lengths = [len(prepared[i][0].input_ids) for i in todo]
        with torch.inference_mode(), progress_bar(len(todo), self.progress, "scoring (likelihood)") as advance:
            for batch in token_budget_batches(lengths, self.max_batch_tokens):
                members = [prepared[todo[b]][0] for b in batch]
                ids, mask = pad_right([m.input_ids for m in members], self.pad_id, self.device)
                self.tokens_run += sum(len(m.input_ids) for m in members)
                rows, cols, targets = response_positions(members, self.device)
                log_p, margin = token_log_probs(self.model, ids, None if self._causal else mask, rows, cols, targets,
                                                margins=reduce == "margin")
                values = (margin if reduce == "margin" else log_p).tolist()
                offset = 0
                for b, member in zip(batch, members):
                    index, first = todo[b], prepared[todo[b]][1]
                    for k, (start, end) in enumerate(member.step_spans()):
                        span = values[offset + start - member.response_start : offset + end - member.response_start]
                        results[index][first + k] = sum(span) / len(span) if reduce == "mean" else min(span)
                    offset += len(member.input_ids) - member.response_start
                advance(len(batch))
        return results

    def score(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float | None]]:
        """P(step correct) for every step, in input order (None for steps dropped by truncation).

        Raises:
            ValueError: a malformed or too-long item (names its index).
        """
        calibrated = self.calibration or (lambda x: _natural(self.reduce, x))
        return [[None if x is None else calibrated(x) for x in row] for row in self.step_features(items)]


def calibrate_on_labels(scorer: LikelihoodScorer, records: Sequence[LabelledSolution]) -> tuple[Calibration | None, str]:
    """Fit ``scorer``'s calibration on step-labelled solutions; ``(calibration or None, what it was fitted on)``.

    Steps up to each solution's first error count (Math-Shepherd hard reading of MC / OmegaPRM
    labels: label > 0 = correct); later steps say nothing new. A fit whose slope is not positive
    (a map that would invert the feature) is refused (None) and the natural map stays.
    """
    features, labels = [], []
    known = [r for r in records if r.labels is not None]
    rows = scorer.step_features([(r.problem.question, r.solution.steps) for r in known]) if known else []
    for record, row in zip(known, rows):
        first = first_error_from_labels(list(record.labels.labels), threshold=1e-9)
        if first is None:
            continue
        last = len(row) if first == -1 else first + 1  # steps after the first error say nothing new
        for k in range(last):
            features.append(row[k])
            labels.append(k != first)
    if len(set(labels)) < 2:
        return None, f"not calibrated: {len(labels)} validation steps of one class"
    calibration = fit_calibration(features, labels)
    if not math.isfinite(calibration.slope) or calibration.slope <= 0:  # a map that inverts the feature is noise
        return None, f"not calibrated: fitted slope {calibration.slope:.3g} on {len(labels)} steps"
    return calibration, f"{len(labels)} validation steps of {len(known)} solutions"
