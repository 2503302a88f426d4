"""The settings of ``prmkit serve`` (Python, YAML and the CLI flags share them): the server's, and the search gateway's."""

from __future__ import annotations

from dataclasses import dataclass, field

from prmkit.search.config import SearchConfig
from prmkit.serve.limits import ServeLimits

__all__ = ["ServeConfig", "GatewayConfig", "API_KEY_ENV"]

API_KEY_ENV = "PRMKIT_API_KEY"


@dataclass(frozen=True)
class ServeConfig:
    """How the server batches, what it accepts and how long it waits.

    Attributes:
        name: the scorer name ``/health`` reports.
        max_batch_items: most items per scorer call, merged across requests.
        max_wait_ms: how long the first request of a batch waits for others to join.
        chunk_items: most items of one request per scorer call (None: ``max_batch_items``); a
            large request is scored in chunks of this size, interleaved with other requests.
        chunk_ms: also cap a chunk at (measured items/s) x this many ms, so that a newcomer waits at
            most about this long behind a large request's call in flight; 0 = no time cap (a lone
            large request then runs in ``chunk_items`` calls: more throughput on a GPU, less fairness).
        max_queue_items: most items waiting for a batch; beyond it requests get 503 + Retry-After.
        request_timeout_s: per-request deadline from arrival to scores; then 504.
        stall_after_s: a scorer call running longer makes ``/ready`` answer 503.
        body_timeout_s: the whole body must arrive within this many seconds of the request head; then 408.
        header_timeout_s: a connection must finish sending a request head within this many seconds.
        keep_alive_s: idle keep-alive connections are closed after this many seconds.
        drain_s: on SIGTERM, in-flight requests get this long to finish before they are cancelled.
        api_key: when set, every route but ``/health`` and ``/ready`` needs
            ``Authorization: Bearer <api_key>`` (default: the ``PRMKIT_API_KEY`` environment variable,
            read by the CLI).
        allowed_hosts: when non-empty, the ``Host`` header must be one of these (``*.example.com``
            matches subdomains); others get 400.
        limits: the request limits (:class:`~prmkit.serve.limits.ServeLimits`).
        reward_aggregate: step-score aggregation of the OpenRLHF ``/get_reward`` route.
        reward_verifiable_coef: weight of the final-answer check in ``/get_reward``'s rewards.
        reward_separator: the text between steps of the policy's responses (``/get_reward``).
    """

    name: str = "scorer"
    max_batch_items: int = 64
    max_wait_ms: float = 5.0
    chunk_items: int | None = None
    chunk_ms: float = 50.0
    max_queue_items: int = 16384
    request_timeout_s: float = 120.0
    stall_after_s: float = 60.0
    body_timeout_s: float = 30.0
    header_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    drain_s: float = 10.0
    api_key: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    limits: ServeLimits = field(default_factory=ServeLimits)
    reward_aggregate: str = "min"
    reward_verifiable_coef: float = 1.0
    reward_separator: str = "\n\n"

    def __post_init__(self) -> None:
        for name in ("request_timeout_s", "stall_after_s", "body_timeout_s", "header_timeout_s", "keep_alive_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ServeConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.drain_s < 0:
            raise ValueError(f"ServeConfig.drain_s must be >= 0, got {self.drain_s}")
        if self.max_queue_items < self.limits.max_items:
            raise ValueError(
                f"ServeConfig.max_queue_items ({self.max_queue_items}) is below limits.max_items "
                f"({self.limits.max_items}): a full-size request could never be queued"
            )
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("ServeConfig.api_key is blank; pass a real key or None")


@dataclass(frozen=True)
class GatewayConfig:
    """What the search gateway (``/v1/...``) does by default and what one request may ask for.

    Attributes:
        model_name: the model id ``/v1/models`` lists; requests must name it.
        method: the search method of a request whose ``search`` object names none.
        search: every other default (:class:`~prmkit.search.SearchConfig`; a request overrides fields).
        max_n: most candidates (``search.n``) per request; above it 400.
        max_tokens: most tokens per solution (``max_tokens``) and per step (``max_step_tokens``); above it 400.
        max_steps: most steps per solution (``search.max_steps``); above it 400.
        max_prompts: most prompts in one ``/v1/completions`` request; above it 400.
        max_searches: searches running at once (one thread each); others wait their turn.
        max_pending_searches: searches running or waiting; beyond it 503 + Retry-After.
        policy_max_wait_ms: how long a lone policy call waits for other requests' calls to share its batch.
        policy_max_batch: most sequences (prompts x n) per policy call.
    """

    model_name: str = "prmkit-policy"
    method: str = "best_of_n"
    search: SearchConfig = field(default_factory=SearchConfig)
    max_n: int = 64
    max_tokens: int = 1024
    max_steps: int = 64
    max_prompts: int = 64
    max_searches: int = 16
    max_pending_searches: int = 256
    policy_max_wait_ms: float = 5.0
    policy_max_batch: int = 512

    def __post_init__(self) -> None:
        for name in ("max_n", "max_tokens", "max_steps", "max_prompts", "max_searches", "max_pending_searches", "policy_max_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"GatewayConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.policy_max_wait_ms < 0:
            raise ValueError(f"GatewayConfig.policy_max_wait_ms must be >= 0, got {self.policy_max_wait_ms}")
        if self.max_pending_searches < self.max_searches:
            raise ValueError(
                f"GatewayConfig.max_pending_searches ({self.max_pending_searches}) is below max_searches ({self.max_searches})"
            )
        if not self.model_name.strip():
            raise ValueError("GatewayConfig.model_name is blank")
