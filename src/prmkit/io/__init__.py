"""Dataset readers and writers: every format reads into and writes from
:class:`~prmkit.types.LabelledSolution`, with errors that name the file, line, record and field.

Modules (imported on use):

* :mod:`prmkit.io.convert` — the format table (``FORMATS``) and ``convert(source, target, in, out)``,
  what ``prmkit convert`` runs;
* :mod:`prmkit.io.processbench`, :mod:`prmkit.io.prmbench` — the two PRM benchmarks (read only);
* :mod:`prmkit.io.prm800k`, :mod:`prmkit.io.math_shepherd`, :mod:`prmkit.io.trl`,
  :mod:`prmkit.io.gsm8k` — training and answer-only datasets;
* ``prmkit.io._jsonl`` — JSONL reading with located errors and atomic writes (``<name>.partial``
  renamed into place only when complete, so nothing already written is lost on a failure).
"""

__all__ = ["convert", "gsm8k", "math_shepherd", "prm800k", "prmbench", "processbench", "trl"]
