"""Prometheus metrics of ``prmkit serve`` (``GET /metrics``, text exposition format).

Each app gets its own ``CollectorRegistry`` so several servers (or tests) in one process do not
share counters. Names:

    prmkit_requests_total{route, status}          answered requests
    prmkit_request_seconds{route}                 latency histogram, first byte in to response sent
    prmkit_errors_total{code}                     error answers by their ``error.code``
    prmkit_items_total                            items accepted for scoring
    prmkit_batch_items                            histogram of items per scorer call
    prmkit_batch_seconds                          histogram of scorer call time
    prmkit_queue_items                            items waiting for a batch (gauge)
    prmkit_batch_running_seconds                  how long the scorer call in flight has run (0 when idle)

and, with the search gateway:

    prmkit_searches_total{method}                 searches answered
    prmkit_search_seconds{method}                 search latency histogram (queue wait included)
    prmkit_searches_pending                       searches running or waiting for a thread (gauge)
    prmkit_policy_batch_sequences                 histogram of sequences (prompts x n) per policy call
    prmkit_policy_batch_calls                     histogram of requests' calls merged into one policy call
    prmkit_policy_batch_seconds                   histogram of policy call time
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["ServeMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServeMetrics:
    """The server's counters and histograms, bound to one scoring service.

    Args:
        service: a :class:`~prmkit.serve.serving.ScoringService` (read for the queue gauges; its
            ``on_batch`` callback is set to record batch sizes and times).
    """

    def __init__(self, service: Any) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("prmkit_requests", "Answered requests.", ["route", "status"], registry=self.registry)
        self.latency = Histogram(
            "prmkit_request_seconds", "Request latency.", ["route"], buckets=_LATENCY_BUCKETS, registry=self.registry
        )
        self.errors = Counter("prmkit_errors", "Error answers by error code.", ["code"], registry=self.registry)
        self.items = Counter("prmkit_items", "Items accepted for scoring.", registry=self.registry)
        self.batch_items = Histogram(
            "prmkit_batch_items", "Items per scorer call.", buckets=_BATCH_BUCKETS, registry=self.registry
        )
        self.batch_seconds = Histogram(
            "prmkit_batch_seconds", "Scorer call time.", buckets=_LATENCY_BUCKETS, registry=self.registry
        )
        queue = Gauge("prmkit_queue_items", "Items waiting for a batch.", registry=self.registry)
        queue.set_function(lambda: service.queued_items)
        running = Gauge("prmkit_batch_running_seconds", "Run time of the scorer call in flight.", registry=self.registry)
        running.set_function(lambda: 0.0 if service.batch_started is None else time.monotonic() - service.batch_started)
        service.on_batch = self._record_batch

    def watch_gateway(self, gateway: Any) -> None:
        """Add the search gateway's metrics (module docstring) and hook them to ``gateway``."""
        from prometheus_client import Counter, Gauge, Histogram

        searches = Counter("prmkit_searches", "Searches answered.", ["method"], registry=self.registry)
        latency = Histogram("prmkit_search_seconds", "Search latency.", ["method"], buckets=_LATENCY_BUCKETS,
                            registry=self.registry)
        pending = Gauge("prmkit_searches_pending", "Searches running or waiting.", registry=self.registry)
        pending.set_function(lambda: gateway.pending)
        sequences = Histogram("prmkit_policy_batch_sequences", "Sequences per policy call.",
                              buckets=_BATCH_BUCKETS, registry=self.registry)
        calls = Histogram("prmkit_policy_batch_calls", "Requests' calls merged per policy call.",
                          buckets=_BATCH_BUCKETS, registry=self.registry)
        seconds = Histogram("prmkit_policy_batch_seconds", "Policy call time.", buckets=_LATENCY_BUCKETS,
                            registry=self.registry)

        def on_search(method: str, elapsed: float) -> None:
            searches.labels(method=method).inc()
            latency.labels(method=method).observe(elapsed)

        def on_batch(merged: int, size: int, elapsed: float) -> None:
            calls.observe(merged)
            sequences.observe(size)
            seconds.observe(elapsed)

        gateway.on_search = on_search
        gateway.policy.on_batch = on_batch

    def _record_batch(self, items: int, seconds: float) -> None:
        self.batch_items.observe(items)
        self.batch_seconds.observe(seconds)

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request (``route`` is the path template, never raw user input)."""
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
