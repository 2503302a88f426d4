"""HTTP backend: score steps with a remote server — ``prmkit serve`` or vLLM's ``/pooling`` endpoint.

Items are cut into batches of ``batch_size``; up to ``concurrency`` batches are in flight at once
(threads sharing one ``httpx.Client``) and the results are put back in input order. A batch that
times out, cannot connect, or gets a 500/502/503/504 answer is retried up to ``max_retries`` times
with exponential backoff (``backoff * 2**attempt`` seconds, or the server's ``Retry-After`` when it
sends one, capped at 60 s). A 4xx answer is the request's own fault and is never retried: it raises
:class:`HTTPScorerError` at once, naming the URL, the status and the server's own message.

Protocols:
    ``"prmkit"``: ``POST {url}/score`` with ``{"items": [{"question", "steps"}]}`` ->
        ``{"scores": [[float | null]]}`` (see :mod:`prmkit.serve.protocol`).
    ``"vllm"``: ``POST {url}/pooling`` with ``{"model", "input": [[token ids]], "task":
        "token_classify" | "classify", "use_activation": false, "encoding_format": "float"}`` ->
        ``{"data": [{"index", "data": [[logits per token]]}]}``; the prompts are built locally by the
        family's ``encode`` (so ``family`` and ``tokenizer`` are required) and read at its
        ``step_positions`` exactly as the in-process vLLM backend does
        (:func:`prmkit.models.backends.vllm.read_step_scores`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prmkit.models import ScoringItem

__all__ = ["HTTPScorer", "HTTPScorerError", "PROTOCOLS"]

PROTOCOLS = ("prmkit", "vllm")
_RETRY_STATUS = frozenset({500, 502, 503, 504})
_MAX_RETRY_AFTER = 60.0


class HTTPScorerError(RuntimeError):
    """A remote scoring call failed for good; the message names URL, status and the server's message."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


def _server_message(response: Any) -> str:
    """The server's own error text: prmkit/vLLM ``{"error": {"message"}}``, FastAPI ``{"detail"}``, or raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        if "message" in body:
            return str(body["message"])
        if "detail" in body:
            return str(body["detail"])
    return str(body)[:500]


def _retry_after(response: Any, default: float) -> float:
    """The server's ``Retry-After`` in seconds (numeric form only), capped; else ``default``."""
    value = response.headers.get("retry-after")
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER) if value is not None else default
    except ValueError:
        return default


class HTTPScorer:
    """Scores steps by calling a remote scorer.

    Args:
        url: server base URL, e.g. ``"http://127.0.0.1:8000"`` (``/score`` or ``/pooling`` is appended).
        protocol: ``"prmkit"`` (a ``prmkit serve`` server) or ``"vllm"`` (``vllm serve --runner pooling``).
        batch_size: items per request.
        concurrency: requests in flight at once.
        timeout: seconds per request before it counts as timed out (and is retried).
        max_retries: retries per batch after the first try (0 = no retry).
        backoff: first retry delay in seconds; doubles with each further retry.
        family: for ``protocol="vllm"``: the family name (``"math-shepherd"``, ...) or a family spec
            whose ``encode`` builds the prompts.
        tokenizer: for ``protocol="vllm"``: a tokenizer directory/hub id or a tokenizer object.
        model: for ``protocol="vllm"``: the served model name sent as ``"model"`` (optional).
        headers: extra request headers (e.g. ``{"Authorization": "Bearer ..."}``).
        api_key: shorthand for ``headers={"Authorization": f"Bearer {api_key}"}`` (``prmkit serve --api-key``).

    Raises:
        ValueError: unknown protocol, non-positive sizes, or ``protocol="vllm"`` without family/tokenizer.

    Example:
        >>> scorer = load_scorer("http", url="http://127.0.0.1:8000")          # doctest: +SKIP
        >>> scorer.score([("1+1?", ["1+1=2", "The answer is 2"])])              # doctest: +SKIP
        [[0.93, 0.97]]
    """

    def __init__(
        self,
        url: str,
        *,
        protocol: str = "prmkit",
        batch_size: int = 16,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        family: Any = None,
        tokenizer: Any = None,
        model: str | None = None,
        headers: dict[str, str] | None = None,
        api_key: str | None = None,
    ) -> None:
        import httpx

        if protocol not in PROTOCOLS:
            raise ValueError(f"HTTPScorer protocol {protocol!r} is unknown; choose one of {', '.join(PROTOCOLS)}")
        for name, value in (("batch_size", batch_size), ("concurrency", concurrency), ("timeout", timeout)):
            if value <= 0:
                raise ValueError(f"HTTPScorer {name} must be > 0, got {value}")
        if max_retries < 0 or backoff < 0:
            raise ValueError(f"HTTPScorer max_retries and backoff must be >= 0, got {max_retries}, {backoff}")
        self.url = url.rstrip("/")
        self.protocol = protocol
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = backoff
        self.model = model
        self.endpoint = f"{self.url}/score" if protocol == "prmkit" else f"{self.url}/pooling"
        self.spec: Any = None
        self.tokenizer: Any = None
        if protocol == "vllm":
            if family is None or tokenizer is None:
                raise ValueError(
                    "HTTPScorer(protocol='vllm') builds prompts locally: pass family=<family name> and "
                    "tokenizer=<tokenizer dir> (the served model's)"
                )
            self.spec = self._load_family(family)
            self.tokenizer = self._load_tokenizer(tokenizer)
        headers = dict(headers or {})
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(timeout=timeout, headers=headers)

    @staticmethod
    def _load_family(family: Any) -> Any:
        if not isinstance(family, str):
            return family
        from prmkit.models.families import get_family

        return get_family(family)

    @staticmethod
    def _load_tokenizer(tokenizer: Any) -> Any:
        from prmkit.models._tokenizer import checkpoint_tokenizer

        return checkpoint_tokenizer(tokenizer, tokenizer)  # token ids are sent: tokenize as the trainer did

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        """Score ``items`` remotely; batches run concurrently, results come back in input order.

        Raises:
            HTTPScorerError: a batch failed after all retries, or a non-retryable error answer.
        """
        batches = [list(items[i : i + self.batch_size]) for i in range(0, len(items), self.batch_size)]
        if not batches:
            return []
        if len(batches) == 1 or self.concurrency == 1:
            results = [self._score_batch(b, i * self.batch_size) for i, b in enumerate(batches)]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches))) as pool:
                results = list(pool.map(self._score_batch, batches, [i * self.batch_size for i in range(len(batches))]))
        return [scores for batch in results for scores in batch]

    # -- one batch ------------------------------------------------------------------------------

    def _score_batch(self, batch: list[ScoringItem], offset: int) -> list[list[float | None]]:
        if self.protocol == "prmkit":
            payload = {"items": [{"question": q, "steps": list(s)} for q, s in batch]}
            body = self._post(payload)
            return self._parse_prmkit(body, batch, offset)
        encoded = [self.spec.encode(self.tokenizer, q, list(s)) for q, s in batch]
        from prmkit.models.backends.vllm import pooling_task_for

        payload = {
            "input": [list(e.input_ids) for e in encoded],
            "task": pooling_task_for(self.spec.head),
            "use_activation": False,
            "encoding_format": "float",
        }
        if self.model is not None:
            payload["model"] = self.model
        body = self._post(payload)
        return self._parse_vllm(body, encoded, offset)

    def _post(self, payload: dict[str, Any]) -> Any:
        import httpx

        attempt = 0
        while True:
            failure: str
            status: int | None = None
            wait = self.backoff * 2**attempt
            try:
                response = self._client.post(self.endpoint, json=payload)
            except httpx.TimeoutException:
                failure = f"timed out after {self._client.timeout.read}s"
            except httpx.TransportError as err:
                failure = f"{type(err).__name__}: {err}"
            else:
                if response.status_code < 400:
                    try:
                        return response.json()
                    except ValueError:
                        raise HTTPScorerError(
                            f"POST {self.endpoint}: status {response.status_code} but the body is not JSON: "
                            f"{response.text[:200]!r}",
                            url=self.endpoint,
                            status=response.status_code,
                        ) from None
                status = response.status_code
                failure = f"status {status}: {_server_message(response)}"
                if status not in _RETRY_STATUS:
                    raise HTTPScorerError(f"POST {self.endpoint} failed with {failure}", url=self.endpoint, status=status)
                wait = _retry_after(response, wait)
            if attempt >= self.max_retries:
                raise HTTPScorerError(
                    f"POST {self.endpoint} failed after {attempt + 1} tries; last: {failure}. "
                    "Is the server up (GET /health) and the URL right?",
                    url=self.endpoint,
                    status=status,
                )
            time.sleep(wait)
            attempt += 1

    def _parse_prmkit(self, body: Any, batch: list[ScoringItem], offset: int) -> list[list[float | None]]:
        scores = body.get("scores") if isinstance(body, dict) else None
        if not isinstance(scores, list) or len(scores) != len(batch):
            got = len(scores) if isinstance(scores, list) else repr(body)[:200]
            raise HTTPScorerError(
                f"POST {self.endpoint}: expected 'scores' for {len(batch)} items, got {got}", url=self.endpoint
            )
        for k, (item_scores, (_, steps)) in enumerate(zip(scores, batch)):
            if not isinstance(item_scores, list) or len(item_scores) != len(steps):
                raise HTTPScorerError(
                    f"POST {self.endpoint}: item {offset + k} has {len(steps)} steps but the server returned "
                    f"{item_scores!r:.200}",
                    url=self.endpoint,
                )
        return scores

    def _parse_vllm(self, body: Any, encoded: list[Any], offset: int) -> list[list[float | None]]:
        from prmkit.models.backends.vllm import read_step_scores

        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != len(encoded):
            got = len(data) if isinstance(data, list) else repr(body)[:200]
            raise HTTPScorerError(
                f"POST {self.endpoint}: expected 'data' for {len(encoded)} prompts, got {got}", url=self.endpoint
            )
        by_index = {entry.get("index", k): entry for k, entry in enumerate(data)}
        results = []
        for k, enc in enumerate(encoded):
            if k not in by_index or "data" not in by_index[k]:
                raise HTTPScorerError(f"POST {self.endpoint}: no pooled output for prompt index {k}", url=self.endpoint)
            results.append(
                read_step_scores(self.spec.head, by_index[k]["data"], enc.input_ids, enc.step_positions, f"item {offset + k}")
            )
        return results
