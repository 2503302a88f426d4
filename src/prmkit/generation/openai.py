"""The OpenAI-compatible backend of :class:`~prmkit.generation.Generator`: a policy served anywhere.

Why: a 7B policy usually runs in vLLM (or any ``/v1/completions`` server), not in this process.
This backend sends one ``POST /v1/completions`` per prompt (``n`` samples each), several at once
from a thread pool, so the server batches them. Transient failures (connection refused or reset,
timeouts, 5xx) are retried with exponential backoff; a 4xx is the caller's fault and raised at
once with the server's message. Token counts for the search budget come from the server's
``usage`` (per choice from ``logprobs.tokens`` when the server returns them; otherwise the
request's ``usage.completion_tokens`` split over its choices by text length, so totals are exact).

Stop strings: prmkit's protocol keeps the stop string at the end of the text and tells a stop
string from EOS. The request asks for ``include_stop_str_in_output`` (vLLM); vLLM's ``stop_reason``
(the matched string, or null for EOS) decides the finish reason. A server that gives neither
(OpenAI itself) reports ``finish_reason="stop"`` for both; that is read as the first stop string
(continuing a finished solution costs one empty step, while ending an unfinished one early loses it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prmkit.types import Completion

__all__ = ["OpenAIGenerator", "PolicyServerError"]

_RETRYABLE = {500, 502, 503, 504}


class PolicyServerError(RuntimeError):
    """The policy server could not be reached or refused the request (``status`` None = unreachable)."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class OpenAIGenerator:
    """Sample completions from an OpenAI-compatible ``/v1/completions`` server.

    Args:
        base_url: the server root, with or without ``/v1`` (``http://127.0.0.1:8000``).
        model: the ``model`` field of each request (the served model's name).
        api_key: sent as ``Authorization: Bearer <api_key>`` when given.
        timeout: seconds per HTTP request.
        max_retries: retries after the first try, on connection errors, timeouts and 5xx only.
        backoff: first retry delay (s), doubled per retry.
        concurrency: requests in flight at once.
        logprobs: ask for this many top log-probs per token (also gives exact per-choice token counts).

    Example:
        >>> gen = OpenAIGenerator("http://127.0.0.1:8000", model="Qwen/Qwen2.5-Math-7B-Instruct")  # doctest: +SKIP
        >>> gen.complete(["1+1="], n=2, stop=["\\n"], max_new_tokens=8, temperature=0.7, seed=0)     # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        concurrency: int = 8,
        logprobs: int | None = None,
    ) -> None:
        import httpx

        if max_retries < 0 or backoff < 0 or concurrency < 1 or timeout <= 0:
            raise ValueError(
                f"OpenAIGenerator: need max_retries >= 0, backoff >= 0, concurrency >= 1, timeout > 0; "
                f"got {max_retries}, {backoff}, {concurrency}, {timeout}"
            )
        root = base_url.rstrip("/")
        self.url = (root if root.endswith("/v1") else root + "/v1") + "/completions"
        self.model, self.max_retries, self.backoff, self.concurrency, self.logprobs = (
            model, max_retries, backoff, concurrency, logprobs,
        )
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    def close(self) -> None:
        self._client.close()

    def complete(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        stop: Sequence[str] | None = None,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        seed: int | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions per prompt, in input order (see the module docstring for stop and token counts).

        Raises:
            PolicyServerError: a 4xx answer, or the server still failing after the retries.
        """
        if n < 1 or max_new_tokens < 1 or temperature < 0:
            raise ValueError(
                f"complete: need n >= 1, max_new_tokens >= 1, temperature >= 0; got {n}, {max_new_tokens}, {temperature}"
            )
        stops = [s for s in (stop or []) if s]
        body: dict[str, Any] = {
            "model": self.model, "n": n, "max_tokens": max_new_tokens, "temperature": temperature,
            "include_stop_str_in_output": True,
        }
        if stops:
            body["stop"] = stops
        if seed is not None:
            body["seed"] = seed
        if self.logprobs is not None:
            body["logprobs"] = self.logprobs
        if len(prompts) <= 1 or self.concurrency == 1:
            return [self._one({**body, "prompt": p}, n, stops) for p in prompts]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(lambda p: self._one({**body, "prompt": p}, n, stops), prompts))

    def _one(self, body: dict[str, Any], n: int, stops: list[str]) -> list[Completion]:
        answer = self._post(body)
        choices = sorted(answer.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != n:
            raise PolicyServerError(f"{self.url} returned {len(choices)} choices for n = {n}", url=self.url)
        texts, reasons = zip(*(self._text_and_reason(c, stops) for c in choices))
        counts = self._token_counts(choices, texts, answer.get("usage") or {})
        return [Completion(t, k, r) for t, k, r in zip(texts, counts, reasons)]

    @staticmethod
    def _text_and_reason(choice: dict[str, Any], stops: list[str]) -> tuple[str, str]:
        text, reason = choice.get("text") or "", choice.get("finish_reason")
        if reason == "length":
            return text, "length"
        hit = next((s for s in stops if text.endswith(s)), None)
        if hit is not None:
            return text, "stop"
        if "stop_reason" in choice:  # vLLM: the matched stop string, or null at EOS
            matched = choice["stop_reason"]
            return (text + matched, "stop") if isinstance(matched, str) and matched in stops else (text, "eos")
        if stops:  # a server that says neither: read "stop" as the first stop string (module docstring)
            return text + stops[0], "stop"
        return text, "eos"

    @staticmethod
    def _token_counts(choices: list[dict[str, Any]], texts: Sequence[str], usage: dict[str, Any]) -> list[int]:
        tokens = [((c.get("logprobs") or {}).get("tokens")) for c in choices]
        if all(isinstance(t, list) for t in tokens):
            return [len(t) for t in tokens]  # type: ignore[arg-type]
        total = usage.get("completion_tokens")
        if not isinstance(total, int):
            return [max(1, len(t)) for t in texts]  # no usage at all: characters, an over-estimate
        lengths = [max(1, len(t)) for t in texts]
        shares = [total * length // sum(lengths) for length in lengths]
        shares[-1] += total - sum(shares)  # the request's total stays exact
        return shares

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        wait = self.backoff
        for attempt in range(self.max_retries + 1):
            try:
                response = self._client.post(self.url, json=body)
            except httpx.HTTPError as err:  # refused, reset, timed out
                problem, status = f"cannot reach the policy server at {self.url}: {type(err).__name__}: {err}", None
            else:
                if response.status_code < 400:
                    return response.json()
                message = response.text[:300]
                status = response.status_code
                problem = f"the policy server at {self.url} answered {status}: {message}"
                if status not in _RETRYABLE:
                    raise PolicyServerError(problem + " (not retried: fix the request)", url=self.url, status=status)
            if attempt < self.max_retries:
                time.sleep(wait)
                wait *= 2
        raise PolicyServerError(f"{problem} (after {self.max_retries + 1} tries)", url=self.url, status=status)
