"""Does RL on a PRM's rewards get hacked? Rewards side by side on the arith task.

Trains copies of the demo arith policy for the same number of steps under each reward and prints
(and plots) held-out greedy accuracy and the hacking diagnostics of :mod:`prmkit.rl.diagnostics`:

    verifiable               final answer right (1) or wrong (0), RLOO baseline per prompt
    prm_sum                  PRM step rewards, summed returns (sum-form), PURE's token-level RLOO baseline
    prm_min                  PRM step rewards, PURE's min-form credit assignment, same baseline
    prm_min_verifiable       prm_min plus the verifiable reward at EOS (PURE's hybrid)
    verifier_min_verifiable  prm_min_verifiable with ``--verifier`` (e.g. the demo's best trained verifier)

The loop (prmkit's own; TRL's ``GRPOTrainer`` takes only scalar rewards, the point here is dense
step-level credit) is the one RL frameworks run, piece by piece from :mod:`prmkit.rl.policy_loss`:
rollouts and log-probs with dropout off; ``--ppo-epochs`` passes over each batch with PPO's clipped
ratio (``--clip-eps``); a k3 KL penalty to the starting policy (``--kl-coef``, GRPO's estimator);
token-mean loss; gradient-norm clipping; every step's sampling seeded from ``--seed`` (same seed,
same curves). Step rewards come from the PRM's P(correct) as ``p+ - p-`` (PURE's choice), placed on
each step's last token (the ``"\\n"`` that ends an arith step); advantages come from
:func:`prmkit.rl.advantages.pure_advantages`. Over-length rollouts never crash it
(:mod:`prmkit.rl.overlong`): generation is capped at the policy's positions, and a rollout that hits
the cap, or that the PRM cannot read whole, is truncated: the PRM reads its complete steps that
fit, its unfinished rest is one step scored ``--overlong-score`` (``--overlong penalize``, default;
the verifiable reward counts it wrong), or it is left out of the loss (``--overlong mask``, DAPO's
overlong filtering).

    python benchmarks/rl_hacking.py --policy src/prmkit/assets/arith_policy --prm <demo>/prm --steps 40 --eval-every 10
    python benchmarks/rl_hacking.py --steps 10 --eval-every 5 --rewards verifiable     # short smoke run
    python benchmarks/rl_hacking.py --prm <demo>/prm --verifier <demo>/likelihood      # + the trained verifier's arm
    python benchmarks/rl_hacking.py --prm-family arith-oracle --prm ""                 # the exact PRM (cannot be hacked)

``--prm`` and ``--verifier`` take any prmkit checkpoint: the scorer family is read from its
``prmkit.json`` (``--prm-family`` / ``--verifier-family`` override it). With ``--prm auto`` the PRM is
a token-classification model trained (:func:`prmkit.train.prm.train_prm`) on the SFT policy's own
samples, labelled exactly by the arith checker: a decent verifier on the policy's starting
distribution and an imperfect one once RL moves the policy away from it, which is when PRM rewards
get hacked.

Measured (README, "RL on PRM rewards"): the documented command plus ``--verifier <demo>/implicit``
(the demo's best trained verifier by ``metrics.json``), default settings, 1000 held-out problems
(s.e. of one accuracy ~0.015), 1 thread on the shared 2-core CPU, 24.9 min for five arms. Held-out
greedy accuracy at steps 0/10/20/30/40, change (paired s.e.):

    verifiable                0.621 0.655 0.638 0.642 0.646   +0.025 (0.015)   KL 0.017
    prm_sum                   0.621 0.514 0.128 0.034 0.018   -0.603 (0.016)   KL 2.736, PRM score 0.63 -> 0.84
    prm_min                   0.621 0.612 0.557 0.484 0.362   -0.259 (0.017)   KL 0.215, PRM score 0.63 -> 0.49
    prm_min_verifiable        0.621 0.623 0.633 0.617 0.657   +0.036 (0.015)   KL 0.018
    verifier_min_verifiable   0.621 0.656 0.636 0.651 0.658   +0.037 (0.016)   KL 0.027

The old loop (lr 3e-4, one REINFORCE pass, no clip, no KL) took verifiable-only from 0.621 to 0.407
on the same 1000 problems; with dropout off it still fell to 0.333 (dropout was not the cause); the
settings above (lr 1e-4, 2 clipped passes, KL 0.04) hold it.

Outputs: a table on stdout, ``<out>/rl_hacking.json`` (config, versions, every logged point, the
per-problem held-out results) and ``<out>/rl_hacking.png``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

REWARDS = ("verifiable", "prm_sum", "prm_min", "prm_min_verifiable", "verifier_min_verifiable")
DEFAULT_REWARDS = REWARDS[:4]


def _help(text: str, default: Any) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass
class Config:
    policy: str = _help("the SFT arith policy checkpoint (prmkit train policy)", "src/prmkit/assets/arith_policy")
    prm: str = _help("PRM checkpoint directory for the prm_* rewards; 'auto' trains a small token-cls PRM on exact "
                     "step labels of the policy's own samples first (cached in <out>/prm); '' for a scorer without "
                     "weights (--prm-family arith-oracle)", "auto")
    prm_family: str = _help("scorer family of --prm (prmkit.models.SCORERS); default: its prmkit.json's, else token-cls",
                            "")
    verifier: str = _help("checkpoint of a second verifier for the verifier_min_verifiable reward (e.g. the demo's "
                          "best trained verifier); '' = no such arm", "")
    verifier_family: str = _help("scorer family of --verifier; default: its prmkit.json's", "")
    rewards: str = _help(f"comma-separated rewards to compare, from {', '.join(REWARDS)}; default the first four, "
                         "plus verifier_min_verifiable when --verifier is given", "")
    steps: int = _help("RL steps per reward", 80)
    prompts_per_step: int = _help("training problems per step", 16)
    samples_per_prompt: int = _help("sampled solutions per problem (the RLOO group)", 4)
    learning_rate: float = _help("Adam learning rate", 1e-4)
    ppo_epochs: int = _help("optimizer passes over each batch of rollouts (1 = plain on-policy REINFORCE)", 2)
    clip_eps: float = _help("PPO ratio clip epsilon", 0.2)
    kl_coef: float = _help("coefficient of the k3 KL penalty to the starting policy (GRPO: 0.04)", 0.04)
    max_grad_norm: float = _help("gradient-norm clip", 1.0)
    dropout: bool = _help("keep dropout on in the update (the old loop's setting; off = log-probs of the policy "
                          "that sampled the rollouts, as RL frameworks do)", False)
    loss_norm: str = _help("'token': mean over all response tokens of the batch (DAPO, verl token-mean); "
                           "'nonzero': over tokens with a non-zero advantage only (the old loop's)", "token")
    temperature: float = _help("sampling temperature of the rollouts", 1.0)
    max_new_tokens: int = _help("longest rollout in tokens (also capped by the policy's positions)", 160)
    overlong: str = _help("truncated rollouts: 'penalize' (unread rest scored --overlong-score, verifiable reward 0) "
                          "or 'mask' (left out of the loss)", "penalize")
    overlong_score: float = _help("PRM score given to a truncated rollout's unread rest (0: reward -1)", 0.0)
    min_form_temperature: float = _help("PURE's soft-min temperature T", 0.1)
    verifiable_coef: float = _help("weight of the verifiable reward in the *_verifiable rewards", 1.0)
    prm_problems: int = _help("--prm auto: training problems sampled (4 solutions each) for the PRM's data", 500)
    prm_steps: int = _help("--prm auto: optimizer steps of the PRM", 300)
    eval_every: int = _help("evaluate held-out greedy accuracy every this many steps", 10)
    eval_problems: int = _help("held-out test problems per evaluation (standard error ~0.5/sqrt(n))", 1000)
    seed: int = _help("seed of problem order, sampling and initial state", 0)
    threads: int = _help("torch CPU threads", 1)
    out: str = _help("output folder", "runs/rl_hacking")

    def reward_list(self) -> list[str]:
        if self.rewards:
            return self.rewards.split(",")
        return [*DEFAULT_REWARDS, *(["verifier_min_verifiable"] if self.verifier else [])]


def parse_config(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in fields(Config):
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
            continue
        kind = float if isinstance(f.default, float) else int if isinstance(f.default, int) else str
        parser.add_argument(flag, type=kind, default=f.default, help=f.metadata["help"])
    config = Config(**vars(parser.parse_args(argv)))
    unknown = [r for r in config.reward_list() if r not in REWARDS]
    if unknown:
        parser.error(f"unknown reward(s) {unknown}; choose from {', '.join(REWARDS)}")
    if "verifier_min_verifiable" in config.reward_list() and not config.verifier:
        parser.error("--rewards verifier_min_verifiable needs --verifier <checkpoint>")
    if config.overlong not in ("penalize", "mask"):
        parser.error(f"--overlong {config.overlong!r}; choose 'penalize' or 'mask'")
    if config.loss_norm not in ("token", "nonzero"):
        parser.error(f"--loss-norm {config.loss_norm!r}; choose 'token' or 'nonzero'")
    if config.ppo_epochs < 1 or config.samples_per_prompt < 2:
        parser.error("--ppo-epochs must be >= 1 and --samples-per-prompt >= 2 (RLOO needs a group)")
    if not Path(config.policy).is_dir():
        parser.error(f"--policy {config.policy} is not a checkpoint folder; train one with `prmkit train policy "
                     f"--output-dir {config.policy}`")
    return config


def load_reader(path: str, family: str) -> Any:
    """A scorer for ``path``: ``family``, else its ``prmkit.json``'s family, else token-cls."""
    from prmkit.models import load_scorer
    from prmkit.models.checkpoints import DEFAULT_FAMILY, recorded_family

    family = family or (recorded_family(path) if path else None) or DEFAULT_FAMILY
    print(f"verifier {path or '(no weights)'}: family {family}")
    return load_scorer(family, **({"path": path} if path else {}))


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


def generation_cap(model: Any, prompt_width: int, max_new_tokens: int) -> int:
    """``max_new_tokens`` cut to the positions a policy with learned positions has left after the prompt."""
    config = model.config
    limit = next((getattr(config, k) for k in ("n_positions", "max_position_embeddings")
                  if isinstance(getattr(config, k, None), int)), None)
    if limit is None:
        return max_new_tokens
    if prompt_width >= limit:
        raise ValueError(f"prompts are {prompt_width} tokens but the policy has {limit} positions; none left to generate")
    return min(max_new_tokens, limit - prompt_width)


def rollouts(model: Any, tokenizer: Any, prompts: list[str], config: Config, seed: int) -> list[dict[str, Any]]:
    """Sample ``samples_per_prompt`` solutions per prompt (seeded); keep prompt ids, response ids, finish state."""
    import torch

    tokenizer.padding_side = "left"
    texts = [p for p in prompts for _ in range(config.samples_per_prompt)]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    cap = generation_cap(model, batch["input_ids"].shape[1], config.max_new_tokens)
    torch.manual_seed(seed)
    with torch.inference_mode():
        output = model.generate(**batch, do_sample=True, temperature=config.temperature, top_k=0,
                                max_new_tokens=cap, pad_token_id=tokenizer.pad_token_id,
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


def read_with(scorer: Any, questions: list[str], samples: list[dict[str, Any]], splits: list[Any],
              separators: frozenset[int], eos: int) -> tuple[list[Any], list[list[float]]]:
    """What ``scorer`` reads of each rollout (:func:`prmkit.rl.overlong.cut_for_reader`) and its step scores.

    ``scorer=None`` (a verifiable-only run without a PRM) reads every step and scores none.
    """
    from prmkit.rl.overlong import cut_for_reader, readable_steps

    items = [(q, sp.steps) for q, sp in zip(questions, splits)]
    readable = readable_steps(scorer, items) if scorer is not None else [len(sp.steps) for sp in splits]
    cuts = [cut_for_reader(sp, readable=r, truncated=s["truncated"], last_token=len(s["ids"]) - 1,
                           complete=[s["ids"][e] in separators or s["ids"][e] == eos for e in sp.ends])
            for sp, r, s in zip(splits, readable, samples)]
    todo = [i for i, c in enumerate(cuts) if c.steps and scorer is not None]
    scored = scorer.score([(questions[i], cuts[i].steps) for i in todo]) if todo else []
    scores: list[list[float]] = [[] for _ in cuts]
    for i, row in zip(todo, scored):
        scores[i] = [float(p) for p in row]
    return cuts, scores


def advantages_for(reward: str, samples: list[dict[str, Any]], cuts: list[Any], prm_scores: list[list[float]],
                   correct: list[float], config: Config) -> Any:
    """Token-level advantages ``[batch, max_len]`` of one batch under one reward."""
    import torch

    from prmkit.rl.advantages import pure_advantages, rloo, to_tokens
    from prmkit.rl.credit import shape
    from prmkit.rl.overlong import scores_with_penalty
    from prmkit.rl.rewards import place_on_tokens, step_rewards_from_scores

    length = max(len(s["ids"]) for s in samples)
    mask = torch.tensor([[t < len(s["ids"]) for t in range(length)] for s in samples])
    group = config.samples_per_prompt
    outcome = torch.tensor(correct)
    if reward == "verifiable":
        return to_tokens(rloo(outcome, group), mask)
    scores = [scores_with_penalty(c, s, config.overlong_score) for c, s in zip(cuts, prm_scores)]
    step_rewards, step_mask = step_rewards_from_scores(scores, "p_minus_n")
    rule, params = ("sum", {}) if reward == "prm_sum" else ("min_form", {"temperature": config.min_form_temperature})
    ends = [c.ends for c in cuts]
    dense = place_on_tokens(shape(rule, step_rewards, step_mask, **params), step_mask, ends, length)
    step_ends = torch.zeros(len(samples), length, dtype=torch.bool)
    for i, row in enumerate(ends):
        step_ends[i, row] = True
    verifiable = outcome if reward.endswith("_verifiable") else None
    adv, _ = pure_advantages(dense, step_ends, mask, group, verifiable=verifiable, verifiable_coef=config.verifiable_coef)
    return adv


def update(model: Any, reference: Any, optimizer: Any, samples: list[dict[str, Any]], advantages: Any,
           keep: list[bool], config: Config) -> dict[str, float]:
    """``--ppo-epochs`` passes of the clipped, KL-penalised loss over one batch; returns the last pass's stats."""
    import torch

    from prmkit.rl.policy_loss import clipped_policy_loss, response_log_probs

    prompts, responses = [s["prompt_ids"] for s in samples], [s["ids"] for s in samples]
    model.eval()  # the policy that sampled the batch: no dropout
    with torch.no_grad():
        old, mask = response_log_probs(model, prompts, responses)
        ref = response_log_probs(reference, prompts, responses)[0]  # logged as the KL even when kl_coef is 0
    mask = mask & torch.tensor(keep)[:, None]
    if config.loss_norm == "nonzero":
        mask = mask & advantages.ne(0)
    stats: dict[str, float] = {}
    for _ in range(config.ppo_epochs):
        model.train(config.dropout)
        logp, _ = response_log_probs(model, prompts, responses)
        loss, stats = clipped_policy_loss(logp, old, advantages, mask, clip_eps=config.clip_eps, ref_log_probs=ref,
                                          kl_coef=config.kl_coef)
        optimizer.zero_grad()
        loss.backward()
        stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm))
        optimizer.step()
        stats["loss"] = loss.item()
    model.eval()
    return stats


def held_out(model: Any, tokenizer: Any, task: Any, problems: list[Any], config: Config) -> list[bool]:
    """Greedy correctness of every held-out problem (deterministic: no sampling)."""
    from prmkit.generation.transformers import TransformersGenerator

    generator = TransformersGenerator(model, tokenizer, device="cpu", batch_size=256, progress=False)
    completions = generator.complete([task.prompt(p) for p in problems], n=1, max_new_tokens=config.max_new_tokens,
                                     temperature=0.0)
    model.eval()
    return [task.is_correct(task.extract_answer(c[0].text), p) for c, p in zip(completions, problems)]


def step_seed(seed: int, step: int) -> int:
    """The sampling seed of one RL step: the same for every reward, so all arms start from the same rollouts."""
    return seed * 1_000_003 + step


def train_one(reward: str, base: Any, tokenizer: Any, scorers: dict[str, Any], task: Any, config: Config,
              progress: Any) -> list[dict]:
    import torch

    from prmkit.rl.diagnostics import hacking_diagnostics
    from prmkit.rl.steps import separator_token_ids, split_tokens

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model = copy.deepcopy(base).eval()
    reference = base.eval()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    separators = separator_token_ids(tokenizer, task.step_separator)
    train, test = task.problems("train"), task.problems("test")[: config.eval_problems]
    scorer = scorers.get("verifier" if reward.startswith("verifier") else "prm")
    log: list[dict[str, Any]] = []
    bar = progress.add_task(reward, total=config.steps)
    for step in range(config.steps + 1):
        point: dict[str, Any] = {"step": step}
        if step % config.eval_every == 0 or step == config.steps:
            results = held_out(model, tokenizer, task, test, config)
            point["held_out_accuracy"] = sum(results) / len(results)
            point["held_out_correct"] = "".join("1" if r else "0" for r in results)
        if step == config.steps:
            log.append(point)
            break
        problems = rng.sample(train, config.prompts_per_step)
        samples = rollouts(model, tokenizer, [task.prompt(p) for p in problems], config, step_seed(config.seed, step))
        splits = [split_tokens(s["ids"], tokenizer, separators, task.step_separator) for s in samples]
        by_prompt = [p for p in problems for _ in range(config.samples_per_prompt)]
        cuts, prm_scores = read_with(scorer, [p.question for p in by_prompt], samples, splits, separators,
                                     tokenizer.eos_token_id)
        texts = [tokenizer.decode(s["ids"], skip_special_tokens=True) for s in samples]
        answered = [float(task.is_correct(task.extract_answer(t), p)) for t, p in zip(texts, by_prompt)]
        # a rollout cut off by the generation cap never finished: the verifiable reward counts it wrong
        correct = [0.0 if s["truncated"] and config.overlong == "penalize" else a for s, a in zip(samples, answered)]
        keep = [not (config.overlong == "mask" and c.truncated) for c in cuts]
        advantages = advantages_for(reward, samples, cuts, prm_scores, correct, config)
        point.update(update(model, reference, optimizer, samples, advantages, keep, config))
        point["train_accuracy"] = sum(answered) / len(answered)
        point["read_truncated"] = sum(c.truncated for c in cuts) / len(cuts)
        point.update(hacking_diagnostics([sp.steps for sp in splits], num_tokens=[sp.num_tokens for sp in splits],
                                         truncated=[s["truncated"] for s in samples],
                                         prm_scores=None if scorer is None else
                                         [s if s else [config.overlong_score] for s in prm_scores],
                                         correct=[bool(c) for c in answered]).to_dict())
        log.append(point)
        progress.update(bar, advance=1, description=f"{reward} acc {point['train_accuracy']:.2f} kl {point['kl']:.3f}")
    return log


def accuracy_change(first: str, last: str) -> tuple[float, float, float]:
    """``(start, end, paired standard error of end - start)`` from two per-problem 0/1 strings."""
    a, b = [int(c) for c in first], [int(c) for c in last]
    n = len(a)
    diffs = [y - x for x, y in zip(a, b)]
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / max(1, n - 1)
    return sum(a) / n, sum(b) / n, math.sqrt(var / n)


def report(logs: dict[str, list[dict]], config: Config, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    n = config.eval_problems
    table = Table(title=f"RL on arith for {config.steps} steps: start -> end (held-out greedy accuracy on {n} problems, "
                        f"last-step batch diagnostics)")
    for name in ("reward", "held-out acc", "change (paired s.e.)", "steps/resp", "tokens/step", "repeated",
                 "truncated", "PRM-verifier disagree", "PRM score", "KL to start"):
        table.add_column(name, justify="right")
    for reward, log in logs.items():
        evals = [p for p in log if "held_out_accuracy" in p]
        diagnosed = [p for p in log if "steps_per_response" in p]
        first, last = diagnosed[0], diagnosed[-1]

        def pair(key: str, fmt: str = "{:.2f}", first: dict = first, last: dict = last) -> str:
            if first.get(key) is None or last.get(key) is None:
                return "-"
            return f"{fmt.format(first[key])} -> {fmt.format(last[key])}"

        start, end, se = accuracy_change(evals[0]["held_out_correct"], evals[-1]["held_out_correct"])
        curve = " ".join(f"{p['held_out_accuracy']:.3f}" for p in evals)
        table.add_row(reward, curve, f"{end - start:+.3f} ({se:.3f})", pair("steps_per_response"),
                      pair("tokens_per_step", "{:.1f}"), pair("repeated_step_ratio"), pair("truncation_ratio"),
                      pair("prm_verifier_disagreement"), pair("prm_score"), f"{last['kl']:.3f}")
    Console(width=200).print(table)
    p = next(iter(logs.values()))[0]["held_out_accuracy"]
    print(f"held-out: {n} problems, binomial s.e. of one accuracy ~{math.sqrt(p * (1 - p) / n):.3f}; "
          f"{seconds / 60:.1f} min in all")


def plot(logs: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ("held_out_accuracy", "steps_per_response", "repeated_step_ratio", "prm_verifier_disagreement", "kl")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.2))
    for ax, key in zip(axes, keys):
        for reward, log in logs.items():
            points = [(p["step"], p[key]) for p in log if p.get(key) is not None]
            if not points:
                continue
            ax.plot(*zip(*points), label=reward, marker="o" if key == "held_out_accuracy" else None, markersize=3)
        ax.set_title(key.replace("_", " ") if key != "kl" else "KL to the starting policy (k3)")
        ax.set_xlabel("RL step")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    config = parse_config()
    import torch
    import transformers
    from rich.progress import Progress
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prmkit.tasks import load_task

    started = time.time()
    torch.set_num_threads(config.threads)
    trained = Path(config.policy) / "train_config.json"  # solve the task the policy was trained on
    policy_config = json.loads(trained.read_text())["config"] if trained.exists() else {}
    task = load_task("arith", difficulty=policy_config.get("difficulty", "demo"), seed=policy_config.get("task_seed", 0),
                     num_train=policy_config.get("num_train_problems", 10_000), num_test=config.eval_problems)
    tokenizer = AutoTokenizer.from_pretrained(config.policy)
    base = AutoModelForCausalLM.from_pretrained(config.policy)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    rewards = config.reward_list()
    scorers: dict[str, Any] = {}
    # the PRM is needed by the prm_* rewards; a verifiable-only run reads it (for the diagnostics) only if named
    if any(r.startswith("prm") for r in rewards) or (config.prm not in ("", "auto") or config.prm_family):
        prm = build_prm(config, task, out) if config.prm == "auto" else config.prm
        scorers["prm"] = load_reader(prm, config.prm_family)
    if config.verifier:
        scorers["verifier"] = load_reader(config.verifier, config.verifier_family)
    logs = {}
    with Progress() as progress:
        for reward in rewards:
            logs[reward] = train_one(reward, base, tokenizer, scorers, task, config, progress)
            record = {"config": asdict(config), "logs": logs, "seconds": round(time.time() - started, 1),
                      "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}
            (out / "rl_hacking.json").write_text(json.dumps(record, indent=1) + "\n")  # after each arm: a cut run keeps them
    plot(logs, out / "rl_hacking.png")
    report(logs, config, time.time() - started)
    print(f"wrote {out / 'rl_hacking.json'} and {out / 'rl_hacking.png'}")


if __name__ == "__main__":
    main()
