"""The search gateway of ``prmkit serve --policy/--policy-url``: the policy, its prompts and the defaults, from flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from prmkit.cli._common import checkpoint_path, console, fail, load_cli_task, parse_options

__all__ = ["PolicyFlags", "build_cli_gateway"]

POLICY_API_KEY_ENV = "PRMKIT_POLICY_API_KEY"


@dataclass
class PolicyFlags:
    """The gateway's flags as given (see ``prmkit serve --help``)."""

    policy: str | None = None
    policy_url: str | None = None
    policy_model: str | None = None
    policy_api_key: str | None = None
    policy_timeout_s: float = 30.0
    policy_backend: str = "transformers"
    tokenizer: str | None = None
    task: str | None = None
    task_option: list[str] = field(default_factory=list)
    step_separator: str = "\n\n"
    served_model_name: str | None = None
    search_method: str = "best_of_n"
    search_n: int | None = None
    search_select: str | None = None
    search_option: list[str] = field(default_factory=list)
    caps: dict[str, Any] = field(default_factory=dict)  # GatewayConfig fields (max_n, max_tokens, ...)
    threads: int = 1

    @property
    def wanted(self) -> bool:
        return self.policy is not None or self.policy_url is not None


def _search_defaults(flags: PolicyFlags) -> Any:
    import dataclasses

    from prmkit.search import SearchConfig

    given = parse_options(flags.search_option)
    known = {f.name for f in dataclasses.fields(SearchConfig)}
    unknown = sorted(set(given) - known)
    if unknown:
        fail(f"--search-option {', '.join(unknown)}: not a SearchConfig field; valid: {', '.join(sorted(known))}")
    if flags.search_n is not None:
        given["n"] = flags.search_n
    if flags.search_select is not None:
        given["selection"] = flags.search_select
    try:
        return SearchConfig(**given)
    except (TypeError, ValueError) as err:
        fail(f"bad search defaults: {err} (--search-n, --search-select, --search-option key=value)")


def _policy(flags: PolicyFlags) -> tuple[Any, str]:
    """The generator and the served model's default name."""
    from prmkit.generation import load_generator

    if flags.policy is not None and flags.policy_url is not None:
        fail("give --policy (a checkpoint served here) or --policy-url (a server elsewhere), not both")
    if flags.policy_url is not None:
        if not flags.policy_model:
            fail("--policy-url needs --policy-model: the model name that server serves (its GET /v1/models)")
        key = flags.policy_api_key or os.environ.get(POLICY_API_KEY_ENV)
        generator = load_generator("openai", base_url=flags.policy_url, model=flags.policy_model, api_key=key,
                                   timeout=flags.policy_timeout_s, max_retries=2, backoff=0.25)
        return generator, flags.policy_model
    assert flags.policy is not None
    path = checkpoint_path(flags.policy, "--policy", demo=True)
    name = "prmkit-arith-demo" if flags.policy == "demo" else flags.policy.rstrip("/").split("/")[-1]
    if flags.policy_backend == "vllm":
        try:
            return load_generator("vllm", model=path), name
        except ImportError as err:
            fail(f"--policy-backend vllm needs vLLM: pip install 'prmkit[vllm]' ({err})")
    if flags.policy_backend != "transformers":
        fail(f"--policy-backend {flags.policy_backend!r}: choose transformers or vllm")
    try:
        return load_generator("transformers", model=path, progress=False, num_threads=flags.threads or None), name
    except (OSError, ValueError) as err:
        fail(f"could not load the policy {flags.policy!r}: {err}")


def build_cli_gateway(flags: PolicyFlags) -> Any:
    """The :class:`~prmkit.serve.search_service.SearchService` the flags describe (fails with the fix on bad flags)."""
    from prmkit.search import SEARCH_METHODS
    from prmkit.serve.config import GatewayConfig
    from prmkit.serve.search_service import build_gateway

    if flags.search_method not in SEARCH_METHODS.names():
        fail(f"--search-method {flags.search_method!r}: choose one of {', '.join(SEARCH_METHODS.names())}")
    search = _search_defaults(flags)
    task_name = flags.task or ("arith" if flags.policy == "demo" else None)
    task = load_cli_task(task_name, flags.task_option) if task_name else None
    if task is None and flags.policy_url is not None and flags.tokenizer is None:
        fail("a policy behind --policy-url needs --task NAME (a task-trained policy) or --tokenizer DIR (its chat template)")
    generator, default_name = _policy(flags)
    tokenizer = None
    if flags.tokenizer is not None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(checkpoint_path(flags.tokenizer, "--tokenizer"))
    try:
        config = GatewayConfig(model_name=flags.served_model_name or default_name, method=flags.search_method,
                               search=search, **flags.caps)
        service = build_gateway(generator, task=task, tokenizer=tokenizer, config=config,
                                step_separator=flags.step_separator)
    except ValueError as err:
        fail(str(err))
    how = f"task {task_name!r} prompts" if task is not None else "the policy's chat template"
    console.print(f"search gateway: model {config.model_name!r}, {how}, default {config.method} n={search.n} "
                  f"({search.selection}); POST /v1/chat/completions, /v1/completions, GET /v1/models")
    return service
