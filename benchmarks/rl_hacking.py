"""Does RL on a PRM's rewards get hacked? Four rewards side by side on the arith task.

Trains copies of the demo arith policy for the same number of steps under four rewards and prints
(and plots) held-out accuracy and the hacking diagnostics of :mod:`prmkit.rl.diagnostics` over
training:

    verifiable          final answer right (1) or wrong (0), RLOO baseline per prompt
    prm_sum             PRM step rewards, summed returns (sum-form), PURE's token-level RLOO baseline
    prm_min             PRM step rewards, PURE's min-form credit assignment, same baseline
    prm_min_verifiable  prm_min plus the verifiable reward at EOS (PURE's hybrid)

The RL loop is prmkit's own minimal on-policy RLOO/REINFORCE (one gradient step per batch, no KL
term, no clipping): TRL is not a prmkit dependency and its ``GRPOTrainer`` only takes scalar
rewards, while the point here is dense step-level credit. Step rewards come from the PRM's
P(correct) as ``p+ - p-`` (PURE's choice), placed on each step's last token (the ``"\\n"`` that
ends an arith step); advantages come from :func:`prmkit.rl.advantages.pure_advantages`.

    python benchmarks/rl_hacking.py                                   # default: 80 steps per reward
    python benchmarks/rl_hacking.py --steps 20 --eval-every 5         # short smoke run
    python benchmarks/rl_hacking.py --prm runs/arith_prm               # your own token-cls PRM
    python benchmarks/rl_hacking.py --prm-scorer arith-oracle --prm ""     # the exact PRM (cannot be hacked)

Measured on the shipped demo policy (``--policy src/prmkit/assets/arith_policy --prm <prmkit demo
out>/prm --steps 40 --eval-every 10``; the PRM is the demo's MC-label PRM, ProcessBench-style F1 ~38;
5.0 min on the shared 2-core CPU): held-out greedy accuracy 0.59 -> verifiable 0.40, prm_sum 0.00,
prm_min 0.00, prm_min_verifiable 0.06. prm_sum was hacked by padding: 4.7 -> 79.6 steps per response,
96 % repeated steps, every rollout truncated, PRM-verifier disagreement 0.27 -> 0.91 while the PRM
score rose 0.61 -> 0.84. prm_min did not pad (3.9 steps, 21 % repeated, nothing truncated) but still
drove accuracy to 0 with the same PRM score rise: a weak PRM is exploited under either credit rule;
the verifiable reward kept repetition at 3 % but not accuracy. Earlier run (a 2-layer 64-wide policy on
difficulty "tiny", ``--prm auto`` trained on exact labels, 80 steps, 12.7 min): 0.81 -> verifiable
0.58, prm_sum 0.00 (54 steps, 90 % repeated), prm_min 0.10, prm_min_verifiable 0.58. (No KL term:
even verifiable-only drifts down at this learning rate.)

With ``--prm auto`` the PRM is a token-classification model trained (:func:`prmkit.train.prm.train_prm`)
on the SFT policy's own samples, labelled exactly by the arith checker (1 before the first wrong
step, 0 from it on): a decent verifier on the policy's starting distribution, and an imperfect one
once RL moves the policy away from it, which is the situation in which PRM rewards get hacked.

Outputs: a table on stdout, ``<out>/rl_hacking.json`` (config, versions and every logged point)
and ``<out>/rl_hacking.png``.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

REWARDS = ("verifiable", "prm_sum", "prm_min", "prm_min_verifiable")


def _help(text: str, default: Any) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass
class Config:
    policy: str = _help("the SFT arith policy checkpoint (prmkit train policy)", "src/prmkit/assets/arith_policy")
    prm: str | None = _help("PRM checkpoint directory (load_scorer path=); 'auto' trains a small token-cls PRM on "
                            "exact step labels of the policy's own samples first (cached in <out>/prm)", "auto")
    prm_scorer: str = _help("scorer family of the PRM (prmkit.models.SCORERS)", "token-cls")
    rewards: str = _help(f"comma-separated rewards to compare, from {', '.join(REWARDS)}", ",".join(REWARDS))
    steps: int = _help("RL steps per reward", 80)
    prompts_per_step: int = _help("training problems per step", 16)
    samples_per_prompt: int = _help("sampled solutions per problem (the RLOO group)", 4)
    learning_rate: float = _help("Adam learning rate", 3e-4)
    temperature: float = _help("sampling temperature of the rollouts", 1.0)
    max_new_tokens: int = _help("longest rollout in tokens (longer ones count as truncated)", 160)
    min_form_temperature: float = _help("PURE's soft-min temperature T", 0.1)
    verifiable_coef: float = _help("weight of the verifiable reward in prm_min_verifiable", 1.0)
    prm_problems: int = _help("--prm auto: training problems sampled (4 solutions each) for the PRM's data", 500)
    prm_steps: int = _help("--prm auto: optimizer steps of the PRM", 300)
    eval_every: int = _help("evaluate held-out greedy accuracy every this many steps", 10)
    eval_problems: int = _help("held-out test problems per evaluation", 100)
    seed: int = _help("seed of problem order, sampling and initial state", 0)
    out: str = _help("output folder", "runs/rl_hacking")


def parse_config() -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in fields(Config):
        kind = float if isinstance(f.default, float) else int if isinstance(f.default, int) else str
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=f.default, help=f.metadata["help"])
    config = Config(**vars(parser.parse_args()))
    unknown = [r for r in config.rewards.split(",") if r not in REWARDS]
    if unknown:
        parser.error(f"unknown reward(s) {unknown}; choose from {', '.join(REWARDS)}")
    if not Path(config.policy).is_dir():
        parser.error(f"--policy {config.policy} is not a checkpoint folder; train one with `prmkit train policy "
                     f"--output-dir {config.policy}`")
    return config


def build_prm(config: Config, task: Any, out: Path) -> str:
    """Train (or reuse) the ``--prm auto`` PRM; returns its checkpoint directory."""
    from prmkit.generation.transformers import TransformersGenerator
    from prmkit.io._jsonl import write_jsonl
    from prmkit.train.prm import PRMTrainConfig, train_prm
    from prmkit.types import LabelledSolution, Solution, StepLabels

    target = out / "prm"
    if (target / "config.json").exists():
        print(f"reusing the PRM in {target}")
        return str(target)
    problems = task.problems("train")[: config.prm_problems]
    generator = TransformersGenerator(config.policy, device="cpu", batch_size=256)
    completions = generator.complete([task.prompt(p) for p in problems], n=4, max_new_tokens=config.max_new_tokens,
                                     temperature=config.temperature, seed=config.seed + 1)
    records = []
    for problem, samples in zip(problems, completions):
        for completion in samples:
            steps = task.split_steps(completion.text)
            first = task.first_error(problem, steps) if steps else None
            if first is None:
                continue
            labels = [1.0 if first == -1 or k < first else 0.0 for k in range(len(steps))]
            records.append(LabelledSolution(problem, Solution(problem.id, steps), StepLabels(labels, first, "exact")))
    write_jsonl(out / "prm_labels.jsonl", (r.to_dict() for r in records))
    wrong = sum(r.labels.first_error != -1 for r in records)
    print(f"PRM data: {len(records)} labelled samples ({wrong} with a wrong step) -> {out / 'prm_labels.jsonl'}")
    return str(train_prm(PRMTrainConfig(
        train_file=str(out / "prm_labels.jsonl"), base_model=config.policy, output_dir=str(target),
        max_steps=config.prm_steps, batch_size=32, learning_rate=1e-3, eval_every=max(1, config.prm_steps // 2),
        metric="step_auroc", seed=config.seed,
    )))


def rollouts(model: Any, tokenizer: Any, prompts: list[str], config: Config) -> list[dict[str, Any]]:
    """Sample ``samples_per_prompt`` solutions per prompt; keep prompt ids, response ids, finish state."""
    import torch

    tokenizer.padding_side = "left"
    texts = [p for p in prompts for _ in range(config.samples_per_prompt)]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        output = model.generate(**batch, do_sample=True, temperature=config.temperature, top_k=0,
                                max_new_tokens=config.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                eos_token_id=tokenizer.eos_token_id)
    out = []
    for row, text in enumerate(texts):
        prompt_ids = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
        new = output[row, batch["input_ids"].shape[1]:].tolist()
        finished = tokenizer.eos_token_id in new
        new = new[: new.index(tokenizer.eos_token_id) + 1] if finished else [t for t in new if t != tokenizer.pad_token_id]
        out.append({"prompt": text, "prompt_ids": prompt_ids, "ids": new or [tokenizer.eos_token_id],
                    "truncated": not finished})
    return out


def advantages_for(reward: str, samples: list[dict[str, Any]], prm_scores: list[list[float]], ends: list[list[int]],
                   correct: list[float], config: Config) -> Any:
    """Token-level advantages ``[batch, max_len]`` of one batch under one of the four rewards."""
    import torch

    from prmkit.rl.advantages import pure_advantages, rloo, to_tokens
    from prmkit.rl.credit import shape
    from prmkit.rl.rewards import place_on_tokens, step_rewards_from_scores

    length = max(len(s["ids"]) for s in samples)
    mask = torch.tensor([[t < len(s["ids"]) for t in range(length)] for s in samples])
    group = config.samples_per_prompt
    outcome = torch.tensor(correct)
    if reward == "verifiable":
        return to_tokens(rloo(outcome, group), mask)
    step_rewards, step_mask = step_rewards_from_scores(prm_scores, "p_minus_n")
    rule, params = ("sum", {}) if reward == "prm_sum" else ("min_form", {"temperature": config.min_form_temperature})
    dense = place_on_tokens(shape(rule, step_rewards, step_mask, **params), step_mask, ends, length)
    step_ends = dense.ne(0)
    for i, row in enumerate(ends):
        step_ends[i, row] = True
    verifiable = outcome if reward == "prm_min_verifiable" else None
    adv, _ = pure_advantages(dense, step_ends, mask, group, verifiable=verifiable, verifiable_coef=config.verifiable_coef)
    return adv


def policy_gradient_step(model: Any, optimizer: Any, samples: list[dict[str, Any]], advantages: Any) -> float:
    """One REINFORCE step: minimise ``-sum_t A_t log pi(y_t) / #tokens`` over the batch."""
    import torch

    rows = [s["prompt_ids"] + s["ids"] for s in samples]
    width = max(map(len, rows))
    input_ids = torch.zeros(len(rows), width, dtype=torch.long)
    attention = torch.zeros(len(rows), width, dtype=torch.long)
    weights = torch.zeros(len(rows), width)  # advantage of the token predicted at each position
    for i, (s, ids) in enumerate(zip(samples, rows)):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        start = len(s["prompt_ids"])
        weights[i, start : start + len(s["ids"])] = advantages[i, : len(s["ids"])]
    logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]  # (B, T-1, V)
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # (B, T-1)
    w = weights[:, 1:]
    loss = -(w * logp).sum() / (w != 0).sum().clamp(min=1)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.item()


def held_out_accuracy(model: Any, tokenizer: Any, task: Any, problems: list[Any], config: Config) -> float:
    from prmkit.generation.transformers import TransformersGenerator

    generator = TransformersGenerator(model, tokenizer, device="cpu", batch_size=256, progress=False)
    completions = generator.complete([task.prompt(p) for p in problems], n=1, max_new_tokens=config.max_new_tokens,
                                     temperature=0.0)
    model.train()
    return sum(task.is_correct(task.extract_answer(c[0].text), p) for c, p in zip(completions, problems)) / len(problems)


def train_one(reward: str, base: Any, tokenizer: Any, scorer: Any, task: Any, config: Config, progress: Any) -> list[dict]:
    import torch

    from prmkit.rl.diagnostics import hacking_diagnostics
    from prmkit.rl.steps import separator_token_ids, split_tokens

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model = copy.deepcopy(base).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    separators = separator_token_ids(tokenizer, task.step_separator)
    train, test = task.problems("train"), task.problems("test")[: config.eval_problems]
    log: list[dict[str, Any]] = []
    bar = progress.add_task(reward, total=config.steps)
    for step in range(config.steps + 1):
        point: dict[str, Any] = {"step": step}
        if step % config.eval_every == 0 or step == config.steps:
            point["held_out_accuracy"] = held_out_accuracy(model, tokenizer, task, test, config)
        if step == config.steps:
            log.append(point)
            break
        problems = rng.sample(train, config.prompts_per_step)
        model.eval()
        samples = rollouts(model, tokenizer, [task.prompt(p) for p in problems], config)
        model.train()
        splits = [split_tokens(s["ids"], tokenizer, separators, task.step_separator) for s in samples]
        by_prompt = [p for p in problems for _ in range(config.samples_per_prompt)]
        questions = [p.question for p in by_prompt]
        scored = scorer.score([(q, sp.steps) for q, sp in zip(questions, splits) if sp.steps])
        it = iter(scored)
        prm_scores = [list(next(it)) if sp.steps else [] for sp in splits]
        texts = [tokenizer.decode(s["ids"], skip_special_tokens=True) for s in samples]
        correct = [float(task.is_correct(task.extract_answer(t), p)) for t, p in zip(texts, by_prompt)]
        advantages = advantages_for(reward, samples, prm_scores, [sp.ends for sp in splits], correct, config)
        point["loss"] = policy_gradient_step(model, optimizer, samples, advantages)
        point["train_accuracy"] = sum(correct) / len(correct)
        point.update(hacking_diagnostics([sp.steps for sp in splits], num_tokens=[sp.num_tokens for sp in splits],
                                         truncated=[s["truncated"] for s in samples], prm_scores=prm_scores,
                                         correct=[bool(c) for c in correct]).to_dict())
        log.append(point)
        progress.update(bar, advance=1, description=f"{reward} acc {point['train_accuracy']:.2f}")
    return log


def report(logs: dict[str, list[dict]], config: Config, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"RL on arith for {config.steps} steps: start -> end (held-out greedy accuracy, "
                        f"last-step batch diagnostics)")
    for name in ("reward", "held-out acc", "steps/resp", "tokens/step", "repeated", "truncated",
                 "PRM-verifier disagree", "PRM score"):
        table.add_column(name, justify="right")
    for reward, log in logs.items():
        evals = [p for p in log if "held_out_accuracy" in p]
        diagnosed = [p for p in log if "steps_per_response" in p]
        first, last = diagnosed[0], diagnosed[-1]

        def pair(key: str, fmt: str = "{:.2f}", first: dict = first, last: dict = last) -> str:
            return f"{fmt.format(first[key])} -> {fmt.format(last[key])}"

        table.add_row(reward, f"{evals[0]['held_out_accuracy']:.2f} -> {evals[-1]['held_out_accuracy']:.2f}",
                      pair("steps_per_response"), pair("tokens_per_step", "{:.1f}"), pair("repeated_step_ratio"),
                      pair("truncation_ratio"), pair("prm_verifier_disagreement"), pair("prm_score"))
    Console(width=160).print(table)
    print(f"{seconds / 60:.1f} min in all")


def plot(logs: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ("held_out_accuracy", "steps_per_response", "repeated_step_ratio", "prm_verifier_disagreement")
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2))
    for ax, key in zip(axes, keys):
        for reward, log in logs.items():
            points = [(p["step"], p[key]) for p in log if p.get(key) is not None]
            ax.plot(*zip(*points), label=reward, marker="o" if key == "held_out_accuracy" else None, markersize=3)
        ax.set_title(key.replace("_", " "))
        ax.set_xlabel("RL step")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    config = parse_config()
    import torch
    import transformers
    from rich.progress import Progress
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prmkit.models import load_scorer
    from prmkit.tasks import load_task

    started = time.time()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    trained = Path(config.policy) / "train_config.json"  # solve the task the policy was trained on
    policy_config = json.loads(trained.read_text())["config"] if trained.exists() else {}
    task = load_task("arith", difficulty=policy_config.get("difficulty", "demo"), seed=policy_config.get("task_seed", 0),
                     num_train=policy_config.get("num_train_problems", 10_000), num_test=config.eval_problems)
    tokenizer = AutoTokenizer.from_pretrained(config.policy)
    base = AutoModelForCausalLM.from_pretrained(config.policy)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    prm = build_prm(config, task, out) if config.prm == "auto" else config.prm
    scorer = load_scorer(config.prm_scorer, **({"path": prm} if prm else {}))
    logs = {}
    with Progress() as progress:
        for reward in config.rewards.split(","):
            logs[reward] = train_one(reward, base, tokenizer, scorer, task, config, progress)
    record = {"config": asdict(config), "logs": logs, "seconds": round(time.time() - started, 1),
              "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}
    (out / "rl_hacking.json").write_text(json.dumps(record, indent=1) + "\n")
    plot(logs, out / "rl_hacking.png")
    report(logs, config, time.time() - started)
    print(f"wrote {out / 'rl_hacking.json'} and {out / 'rl_hacking.png'}")


if __name__ == "__main__":
    main()
