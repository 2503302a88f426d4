"""SFT of a tiny causal-LM policy on the arith task's reference solutions.

Why: the demo and the tests need a *useful imperfect* policy, one that solves some problems and
slips on others, so that step verification has something to do. This trains a character-level
GPT-2 (about 0.8M parameters) from scratch, with the loss on the solution tokens only, and can
stop as soon as held-out pass@1 reaches a target (so the result does not depend on how fast the
machine is). It runs unchanged on CPU or GPU through ``accelerate``:

    prmkit train policy --output-dir runs/arith_policy           # CPU, or the GPU when there is one
    accelerate launch "$(which prmkit)" train policy --output-dir runs/arith_policy   # several GPUs

The output directory loads with ``AutoModelForCausalLM`` / ``AutoTokenizer`` (or
``load_generator("transformers", model=DIR)``) and also holds ``train_config.json`` (the resolved
config, versions and the held-out evaluations made during training).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from prmkit._provenance import git_hash
from prmkit.tasks.arith import DIFFICULTIES, ArithTask

__all__ = ["PolicyConfig", "encode_example", "measure_policy", "train_policy"]


def _help(text: str, default: Any) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass
class PolicyConfig:
    """Everything ``train_policy`` needs; each field doubles as a ``prmkit train policy`` flag."""

    output_dir: str = _help("where the checkpoint (model, tokenizer, train_config.json) is written", "runs/arith_policy")
    difficulty: str = _help(f"arith difficulty level, one of {sorted(DIFFICULTIES)}", "demo")
    task_seed: int = _help("seed of the arith problem generator (train/test splits are disjoint for any seed)", 0)
    num_train_problems: int = _help("distinct training problems drawn from the train split", 50_000)
    n_layer: int = _help("transformer layers of the GPT-2 policy", 4)
    n_embd: int = _help("hidden width", 128)
    n_head: int = _help("attention heads", 4)
    max_positions: int = _help("longest sequence in tokens (prompt + solution)", 192)
    max_steps: int = _help("optimizer steps at most (the cosine schedule is laid out over this many)", 3000)
    batch_size: int = _help("sequences per optimizer step and process (N GPUs see N x this many)", 64)
    learning_rate: float = _help("peak AdamW learning rate", 2e-3)
    warmup_steps: int = _help("linear warm-up steps", 100)
    weight_decay: float = _help("AdamW weight decay", 0.01)
    seed: int = _help("seed of initialisation, data order and evaluation sampling", 0)
    eval_every: int = _help("evaluate held-out pass@1 every this many steps (0 = only at the end)", 100)
    eval_problems: int = _help("held-out test problems per evaluation", 200)
    eval_temperature: float = _help("sampling temperature of the evaluations", 1.0)
    stop_at_pass1: float | None = _help(
        "stop once held-out pass@1 reaches this (None = run max_steps); the default keeps the policy useful but "
        "imperfect, so that verification matters", 0.45)
    eval_max_new_tokens: int = _help("longest sampled solution in evaluations, in tokens", 160)
    num_threads: int | None = _help("CPU threads for torch (None = torch's default; 1 is fastest on a busy machine)", None)
    progress: bool = _help("show a progress bar", True)

    def __post_init__(self) -> None:
        errors = []
        if self.difficulty not in DIFFICULTIES:
            errors.append(f"PolicyConfig.difficulty={self.difficulty!r} is not one of {sorted(DIFFICULTIES)}")
        for name in ("num_train_problems", "n_layer", "n_embd", "n_head", "max_steps", "batch_size", "eval_problems",
                     "eval_max_new_tokens"):
            if getattr(self, name) < 1:
                errors.append(f"PolicyConfig.{name}={getattr(self, name)} must be >= 1")
        if self.n_head >= 1 and self.n_embd % self.n_head:
            errors.append(f"PolicyConfig.n_embd={self.n_embd} must be divisible by PolicyConfig.n_head={self.n_head}")
        if self.num_threads is not None and self.num_threads < 1:
            errors.append(f"PolicyConfig.num_threads={self.num_threads} must be >= 1 or None")
        if self.stop_at_pass1 is not None and not 0 < self.stop_at_pass1 <= 1:
            errors.append(f"PolicyConfig.stop_at_pass1={self.stop_at_pass1} must be in (0, 1]")
        if errors:
            raise ValueError("invalid settings: " + "; ".join(errors))  # names as PolicyConfig.x: the CLI shows --x

    @classmethod
    def field_help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}


def encode_example(tokenizer: Any, prompt: str, solution: str) -> tuple[list[int], list[int]]:
    """Token ids and labels of one SFT example: ``[BOS] prompt solution [EOS]``, labels -100 on
    the BOS and prompt tokens so only the solution (and EOS) is learned.

    Example (character-level tokenizer, one token per character)::

        prompt "Q 1 +2\\n", solution "1+2=3\\nThe answer is 3.\\n"
        input_ids  [BOS] Q ␣ 1 ␣ + 2 \\n 1 + 2 = 3 \\n "The answer is " 3 . \\n [EOS]
        labels     -100 ... (8 x -100)  1 + 2 = 3 \\n "The answer is " 3 . \\n [EOS]
    """
    prompt_ids = tokenizer(prompt)["input_ids"]
    solution_ids = tokenizer(solution, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return prompt_ids + solution_ids, [-100] * len(prompt_ids) + solution_ids


def _collate(examples: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    """Right-pad a batch: input_ids/labels/attention_mask of shape (B, T_max)."""
    import torch

    length = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), length), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), length), dtype=torch.long)
    for row, (ids, labs) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}


def train_policy(config: PolicyConfig) -> Path:
    """Train the tiny arith policy and save it to ``config.output_dir``.

    Steps: build the character-level tokenizer and a random GPT-2 from ``config``; encode the
    reference solutions of ``num_train_problems`` train problems; run AdamW with warm-up and
    cosine decay (through ``accelerate``: CPU, one GPU or several); every ``eval_every`` steps
    sample one solution per held-out test problem and record pass@1; stop at ``max_steps`` or when
    ``stop_at_pass1`` is reached; save model, tokenizer and ``train_config.json``.

    Returns:
        The output directory.

    Raises:
        ValueError: a reference solution does not fit ``max_positions`` (raise it).
    """
    import torch
    import transformers
    from accelerate import Accelerator
    from transformers import GPT2Config, GPT2LMHeadModel

    from prmkit.generation.transformers import TransformersGenerator
    from prmkit.train.tokenizer import build_char_tokenizer

    started = time.time()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    accelerator = Accelerator()
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    task = ArithTask(difficulty=config.difficulty, num_train=config.num_train_problems, num_test=config.eval_problems,
                     seed=config.task_seed)
    tokenizer = build_char_tokenizer()
    examples = [encode_example(tokenizer, task.prompt(p), task.reference_solution(p)) for p in task.problems("train")]
    longest = max(len(ids) for ids, _ in examples)
    if longest > config.max_positions:
        raise ValueError(f"PolicyConfig.max_positions={config.max_positions} but a training example has {longest} "
                         "tokens; raise max_positions")

    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_positions=config.max_positions, n_embd=config.n_embd, n_layer=config.n_layer,
        n_head=config.n_head, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=(0.9, 0.98),
                                  weight_decay=config.weight_decay)

    def lr_factor(step: int) -> float:  # linear warm-up, then cosine decay to 10% at max_steps
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    loader = torch.utils.data.DataLoader(
        examples, batch_size=config.batch_size, shuffle=True, drop_last=True,
        collate_fn=lambda batch: _collate(batch, tokenizer.pad_token_id),
        generator=torch.Generator().manual_seed(config.seed),
    )
    # The scheduler is stepped here once per optimizer step (not prepared: a prepared scheduler
    # steps once per process), so the schedule is the same on 1 CPU and on N GPUs.
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    test_problems = task.problems("test")
    evaluations: list[dict[str, Any]] = []

    def evaluate(step: int) -> float:
        model.eval()
        generator = TransformersGenerator(accelerator.unwrap_model(model), tokenizer, device=str(accelerator.device),
                                          batch_size=512, progress=False)
        result = measure_policy(generator, task, test_problems, n=1, temperature=config.eval_temperature,
                                seed=config.seed, max_new_tokens=config.eval_max_new_tokens)
        model.train()
        pass1 = result["pass@1"]
        if accelerator.num_processes > 1:  # every process must take the same stop decision
            from accelerate.utils import broadcast_object_list

            pass1 = broadcast_object_list([pass1])[0]
        evaluations.append({"step": step, "pass@1": pass1, "seconds": round(time.time() - started, 1)})
        return pass1

    step, loss_value, first_loss, pass1 = 0, float("nan"), float("nan"), float("nan")
    with _progress(config.progress and accelerator.is_main_process, config.max_steps) as update:
        model.train()
        while step < config.max_steps:
            for batch in loader:
                loss = model(**batch).loss
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                step += 1
                loss_value = loss.item()
                if step == 1:
                    first_loss = loss_value
                if config.eval_every and step % config.eval_every == 0 and step < config.max_steps:
                    pass1 = evaluate(step)
                    if not config.progress:
                        accelerator.print(f"step {step}: loss {loss_value:.4f}, held-out pass@1 {pass1:.3f}", flush=True)
                update(step, loss_value, pass1)
                if step >= config.max_steps or (config.stop_at_pass1 is not None and pass1 >= config.stop_at_pass1):
                    break
            if config.stop_at_pass1 is not None and pass1 >= config.stop_at_pass1:
                break
    if not evaluations or evaluations[-1]["step"] != step:
        evaluate(step)

    output = Path(config.output_dir)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        accelerator.unwrap_model(model).save_pretrained(output)
        tokenizer.save_pretrained(output)
        record = {
            "config": asdict(config), "steps": step, "first_loss": first_loss, "final_loss": loss_value, "evaluations": evaluations,
            "train_seconds": round(time.time() - started, 1), "num_parameters": sum(p.numel() for p in model.parameters()),
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__}, "git": git_hash(),
        }
        (output / "train_config.json").write_text(json.dumps(record, indent=2) + "\n")
    return output


def measure_policy(
    generator: Any, task: ArithTask, problems: list[Any], *, n: int = 16, temperature: float = 1.0,
    seed: int | None = 0, max_new_tokens: int = 160,
) -> dict[str, float]:
    """Sample ``n`` full solutions per problem and report how good the policy is.

    Returns:
        ``pass@1`` (mean correctness over all samples), ``maj@n`` (the most frequent extracted
        answer is right; ties broken by first occurrence), ``pass@n`` (any sample right) and
        ``mean_tokens`` (generated tokens per sample).
    """
    completions = generator.complete([task.prompt(p) for p in problems], n=n, max_new_tokens=max_new_tokens,
                                     temperature=temperature, seed=seed)
    right = majority = anyone = tokens = 0
    for problem, samples in zip(problems, completions):
        answers = [task.extract_answer(c.text) for c in samples]
        flags = [task.is_correct(a, problem) for a in answers]
        right += sum(flags)
        anyone += any(flags)
        votes = Counter(a for a in answers if a is not None)
        majority += bool(votes) and task.is_correct(votes.most_common(1)[0][0], problem)
        tokens += sum(c.num_tokens for c in samples)
    total = max(1, len(problems))
    return {"pass@1": right / (total * n), f"maj@{n}": majority / total, f"pass@{n}": anyone / total,
            "mean_tokens": tokens / (total * n)}


class _progress:
    """A rich progress bar showing step, loss and the last held-out pass@1 (no-op when disabled)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda *_: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(TextColumn("train policy"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.description}"))
        self.bar.__enter__()
        self.task = self.bar.add_task("", total=self.total)

        def update(step: int, loss: float, pass1: float) -> None:
            self.bar.update(self.task, completed=step, description=f"loss {loss:.3f}  held-out pass@1 {pass1:.2f}")

        return update

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)
