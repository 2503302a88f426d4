"""What limits the demo's token-classification PRM: the reader, not the labels or the base's knowledge.

``prmkit demo`` trains a token-cls PRM on MC labels and gets a ProcessBench-style F1 far below the
issue's target (≥ 80). This script separates the suspects on the demo's own material, all in one
run and scored the same way (first step scored below 0.5 = predicted first error, against the exact
``ArithTask.first_error`` of held-out policy solutions):

    token-cls (exact labels)   the demo's PRM recipe (``train_prm``, demo settings) trained on the
                               *exact* labels, so MC label noise is ruled out
    probe (exact labels)       logistic regression on the frozen base's last hidden state at each
                               step's last token (+ the token before): is "this step is wrong"
                               linearly readable where token-cls reads? (The probe reads the
                               policy's own layout; token-cls reads its TRL layout, which puts no
                               separator after the question — adding one did not help: F1 36 vs 42.)
    token likelihood           no training: a step's score is the smallest probability the base LM
                               gives one of its tokens (BOS + question + "\\n" + steps, the policy's
                               own layout) — what the base *knows* about each step

With ``--continue-steps N`` the same three rows are repeated for a *stronger* base: the policy with N
more SFT steps on reference solutions (nothing but correct solutions, no labels; 1,200 steps take
about 10 minutes on one CPU thread). If token likelihood is near-perfect there while token-cls and
the probe stay low, the base knows which steps are wrong but that knowledge lives only in its
next-token predictions, which a head at the step's last token cannot see.

Usage (the default run takes about 3 minutes on a busy 2-core CPU)::

    python benchmarks/prm_ceiling.py
    python benchmarks/prm_ceiling.py --continue-steps 1200     # + the stronger base (~13 min)

Measured (``--continue-steps 1200``, 735 s on a shared 2-core CPU, one thread; 1,024 training and 800
held-out solutions, 485 with an error; the stronger base reached reference loss 0.003):

    base                reader                          error acc  correct acc    F1
    policy              token-cls (exact labels)             33.2         55.2   41.5
    policy              probe (exact labels)                 39.0         50.8   44.1
    policy              token likelihood (no training)       75.5         80.6   78.0
    policy +1200 SFT    token-cls (exact labels)             38.1         42.2   40.1
    policy +1200 SFT    probe (exact labels)                 35.1         57.5   43.5
    policy +1200 SFT    token likelihood (no training)      100.0        100.0  100.0

So the stronger base *knows* every wrong step (its next-token probabilities single them out
perfectly), yet neither the fine-tuned token-cls PRM nor a probe reads that knowledge at the step's
last token, even with exact labels: the demo's F1 target is limited by the reader and the amount of
labelled data, not by MC label noise. Also tried by hand on the same exact labels (one-off runs, not
in this script), each read at 0.5: an 8-layer depth-upscaled token-cls base (layers duplicated; F1
47 from the policy, 50 from the stronger base), the label on every token of a step (41), 30 epochs
(43 and 47 at two learning rates; train-slice F1 up to 88: it memorises). An implicit-form PRM
(``beta * log pi/pi_ref`` summed up to each step, pi_ref = the policy) trained on the step labels
reached 68 only at a threshold picked on the held-out set (44 at 0.5).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from prmkit._memory import keep_freed_memory
from prmkit.annotate import SolutionSampler
from prmkit.generation import load_generator
from prmkit.metrics import first_error_prediction, processbench_f1
from prmkit.tasks.arith import ArithTask, resolve_policy
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

Item = tuple[Problem, Solution]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", default="demo", help="policy checkpoint dir ('demo' = the shipped one)")
    parser.add_argument("--train-problems", type=int, default=256, help="training problems (the demo's label_problems)")
    parser.add_argument("--samples", type=int, default=4, help="solutions sampled per training problem")
    parser.add_argument("--test-problems", type=int, default=100, help="held-out problems")
    parser.add_argument("--test-samples", type=int, default=8, help="solutions sampled per held-out problem")
    parser.add_argument("--epochs", type=float, default=6.0, help="token-cls epochs (the demo's prm_epochs)")
    parser.add_argument("--continue-steps", type=int, default=0, help="also test a base SFT-ed this many more steps (0 = skip)")
    parser.add_argument("--seed", type=int, default=0, help="seed of problems, sampling and training")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    return parser.parse_args()


def _exact_records(task: ArithTask, items: Sequence[Item]) -> list[LabelledSolution]:
    records = []
    for problem, solution in items:
        first = task.first_error(problem, solution.steps)
        labels = [1.0 if first == -1 or k < first else 0.0 for k in range(len(solution.steps))]
        records.append(LabelledSolution(problem, solution, StepLabels(labels, first_error=first, source="exact")))
    return records


def _f1(gold: Sequence[int], scores: Sequence[Sequence[float]]) -> dict[str, float]:
    return processbench_f1(gold, [first_error_prediction(row, 0.5) for row in scores])


def _token_cls(base: str, records: Sequence[LabelledSolution], test: Sequence[Item], work: Path, epochs: float,
               seed: int) -> tuple[list[list[float]], dict[str, Any]]:
    """The demo's PRM recipe on exact labels; returns held-out scores and the best validation entry."""
    from transformers import AutoModelForTokenClassification

    from prmkit.train._data import load_tokenizer
    from prmkit.train.prm import PRMTrainConfig, predict_step_scores, train_prm

    train_file = work / "exact.jsonl"
    train_file.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    out = train_prm(PRMTrainConfig(train_file=str(train_file), base_model=base, output_dir=str(work / "prm"),
                                   num_epochs=epochs, learning_rate=1e-3, batch_size=32, eval_every=50, metric="f1",
                                   seed=seed))
    history = json.loads((out / "eval_history.json").read_text())
    model = AutoModelForTokenClassification.from_pretrained(out)
    scores = predict_step_scores(model, load_tokenizer(out), [(p.question, s.steps) for p, s in test], batch_size=64)
    return scores, history["best"]


def _encoded(tokenizer: Any, items: Sequence[Item]) -> list[Any]:
    from prmkit.models.formats.implicit import encode_implicit

    return [encode_implicit(tokenizer, p.question, s.steps) for p, s in items]


def _likelihood_scores(model: Any, tokenizer: Any, items: Sequence[Item]) -> list[list[float]]:
    """Per step: the smallest probability the LM gives one of the step's tokens."""
    from prmkit.train.implicit import _response_log_probs

    encoded = _encoded(tokenizer, items)
    logps = _response_log_probs(model, encoded, tokenizer.pad_token_id, 64, "right")  # response tokens only
    return [[math.exp(min(lp[s - item.response_start : e - item.response_start])) for s, e in item.step_spans()]
            for item, lp in zip(encoded, logps)]


def _probe_scores(model: Any, tokenizer: Any, records: Sequence[LabelledSolution], test: Sequence[Item]) -> tuple[list[list[float]], float]:
    """Logistic regression on [h(last token of step), h(token before)] of the frozen LM; (test scores, train acc)."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    from prmkit.train._data import pad_batch

    def features(items: Sequence[Item]) -> list[Any]:
        encoded, out = _encoded(tokenizer, items), []
        with torch.no_grad():
            for start in range(0, len(encoded), 64):
                chunk = encoded[start : start + 64]
                batch = pad_batch([{"input_ids": e.input_ids} for e in chunk], tokenizer.pad_token_id, "right")
                hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                               position_ids=batch["position_ids"], output_hidden_states=True).hidden_states[-1]
                out += [np.stack([torch.cat([hidden[row, p], hidden[row, p - 1]]).numpy() for p in item.step_positions])
                        for row, item in enumerate(chunk)]
        return out

    train_x = np.concatenate(features([(r.problem, r.solution) for r in records]))
    train_y = np.concatenate([np.array(r.labels.labels) >= 0.5 for r in records])
    probe = LogisticRegression(max_iter=3000).fit(train_x, train_y)
    return [probe.predict_proba(x)[:, 1].tolist() for x in features(test)], float(probe.score(train_x, train_y))


def _continue_sft(policy: str, steps: int, out: Path, seed: int, console: Console) -> str:
    """The policy after ``steps`` more SFT steps on arith reference solutions (a stronger base, no labels)."""
    import torch
    from transformers import AutoModelForCausalLM

    from prmkit.train._data import load_tokenizer
    from prmkit.train.policy import _collate, encode_example

    torch.manual_seed(seed)
    tokenizer = load_tokenizer(policy)
    model = AutoModelForCausalLM.from_pretrained(policy, attn_pdrop=0.0, resid_pdrop=0.0, embd_pdrop=0.0)
    task = ArithTask(difficulty="demo", num_train=50_000, num_test=1, seed=seed)
    examples = [encode_example(tokenizer, task.prompt(p), task.reference_solution(p)) for p in task.problems("train")]
    loader = torch.utils.data.DataLoader(examples, batch_size=64, shuffle=True, drop_last=True,
                                         collate_fn=lambda b: _collate(b, tokenizer.pad_token_id))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.1 + 0.9 * (1 - s / steps))
    model.train()
    for step, batch in enumerate(itertools.islice(itertools.cycle(loader), steps), start=1):
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 200 == 0 or step == steps:
            console.print(f"  stronger base: step {step}/{steps}, reference loss {loss.item():.4f}")
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def main() -> None:
    args = _arguments()
    keep_freed_memory()  # CPU tensors reuse freed memory instead of re-faulting pages (prmkit._memory)
    import torch
    from transformers import AutoModelForCausalLM

    from prmkit.train._data import load_tokenizer

    torch.set_num_threads(args.threads)
    console = Console(width=132)
    started = time.perf_counter()
    policy = resolve_policy(args.policy)
    task = ArithTask(difficulty="demo", num_train=args.train_problems, num_test=args.test_problems, seed=args.seed)
    generator = load_generator("transformers", model=policy, num_threads=args.threads)

    def sample(split: str, count: int, samples: int, key: int) -> list[Item]:
        problems = task.problems(split)[:count]
        solutions = SolutionSampler(generator, task, samples=samples, temperature=1.0, seed=args.seed + key)(problems)
        return [(p, s) for p, sols in zip(problems, solutions) for s in sols]

    records = _exact_records(task, sample("train", args.train_problems, args.samples, 0))
    test = sample("test", args.test_problems, args.test_samples, 1)
    gold = [task.first_error(p, s.steps) for p, s in test]
    console.print(f"{len(records)} training solutions (exact labels), {len(test)} held-out solutions, "
                  f"{sum(g != -1 for g in gold)} of them with an error; {time.perf_counter() - started:.0f} s")

    rows: list[tuple[str, str, dict[str, float], str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        bases = [("policy", policy)]
        if args.continue_steps > 0:
            console.print(f"training the stronger base ({args.continue_steps} SFT steps on reference solutions)")
            bases.append((f"policy +{args.continue_steps} SFT steps",
                          _continue_sft(policy, args.continue_steps, Path(tmp) / "stronger", args.seed, console)))
        for name, base in bases:
            work = Path(tmp) / name.replace(" ", "_")
            work.mkdir()
            scores, best = _token_cls(base, records, test, work, args.epochs, args.seed)
            rows.append((name, "token-cls (exact labels)", _f1(gold, scores),
                         f"validation F1 {best.get('f1', float('nan')):.1f}, train-slice F1 {best.get('train_f1', float('nan')):.1f}"))
            model = AutoModelForCausalLM.from_pretrained(base).eval()
            tokenizer = load_tokenizer(base)
            probe, train_acc = _probe_scores(model, tokenizer, records, test)
            rows.append((name, "probe (exact labels)", _f1(gold, probe), f"train step accuracy {train_acc:.3f}"))
            rows.append((name, "token likelihood (no training)", _f1(gold, _likelihood_scores(model, tokenizer, test)), ""))
            console.print(f"{name}: done, {time.perf_counter() - started:.0f} s")

    table = Table(title=f"arith demo: ProcessBench-style F1 on {len(test)} held-out policy solutions (threshold 0.5)")
    for column in ("base", "reader", "error acc %", "correct acc %", "F1", "note"):
        table.add_column(column, justify="right" if column.endswith(("%", "F1")) else "left")
    for base, reader, f1, note in rows:
        table.add_row(base, reader, f"{f1['error_acc']:.1f}", f"{f1['correct_acc']:.1f}", f"{f1['f1']:.1f}", note)
    console.print(table)
    console.print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
