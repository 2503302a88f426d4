"""Evaluating PRMs with the official metrics of their benchmarks.

Modules (imported on use; none needs torch):

* :mod:`prmkit.evaluate.processbench` — ProcessBench error/correct accuracy and F1 per subset
  (fixed or GSM8K-tuned threshold), from a scores file or a :class:`~prmkit.models.Scorer`.
* :mod:`prmkit.evaluate.prmbench` — PRMBench PRMScore per error category and overall.
* :mod:`prmkit.evaluate.bon` — best-of-N curves: pass@k, majority@k, best-of-k, weighted vote@k;
  defines the best-of-N JSONL schema that search writes.
* :mod:`prmkit.evaluate.step_metrics` — AUROC, F1, calibration, first-error accuracy on any
  step-labelled set (the math lives in :mod:`prmkit.metrics`).
* :mod:`prmkit.evaluate.plots` — accuracy-vs-N PNGs (matplotlib).

The command line front end is ``prmkit eval processbench|prmbench|bon|steps``.
"""

__all__ = ["processbench", "prmbench", "bon", "step_metrics", "plots"]
