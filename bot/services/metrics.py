"""How the bot is doing: recent request latencies and the figures /stats reports."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage import ratings, users
from storage.db import Database

KEEP = 500  # latencies kept per operation


@dataclass(frozen=True)
class LatencySummary:
    p50_ms: float
    p95_ms: float
    calls: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencySummary | None:
        """Median and 95th percentile (nearest rank) of these latencies; None for none."""
        if not seconds:
            return None
        ordered = sorted(seconds)
        p50 = ordered[len(ordered) // 2]
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        return cls(p50 * 1000, p95 * 1000, len(ordered))


class Latencies:
    """The newest latencies of each timed operation ("recommend", "similar")."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._samples: dict[str, deque[float]] = {}

    def samples(self, operation: str) -> deque[float]:
        """The live buffer of one operation's latencies in seconds, oldest first."""
        return self._samples.setdefault(operation, deque(maxlen=self._keep))

    @contextlib.contextmanager
    def timed(self, operation: str) -> Iterator[None]:
        """Record how long the block takes (also when it raises)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.samples(operation).append(time.perf_counter() - started)

    def summaries(self) -> dict[str, LatencySummary]:
        """Every operation that has latencies, in the order they were first timed."""
        found = {op: LatencySummary.of(list(s)) for op, s in self._samples.items()}
        return {op: summary for op, summary in found.items() if summary is not None}


@dataclass(frozen=True)
class ModelSummary:
    """What /stats and the retrain messages say about a model."""

    version: Any
    ndcg: float | None  # validation NDCG@10, if it was measured
    age_hours: float
    timings: Mapping[str, float] = field(default_factory=dict)  # seconds per training stage

    @classmethod
    def of(cls, info: Mapping[str, Any], now: float | None = None) -> ModelSummary:
        """From a model's `info` (its registry record); the age is counted up to `now`."""
        now = time.time() if now is None else now
        ndcg = (info.get("metrics") or {}).get("ndcg@10")
        age = (now - info.get("trained_at", now)) / 3600
        timings = dict(info.get("timings") or {})
        return cls(info.get("version", "?"), None if ndcg is None else float(ndcg), age, timings)


@dataclass(frozen=True)
class Stats:
    telegram_users: int
    telegram_ratings: int
    all_ratings: int
    model: ModelSummary | None
    latency: Mapping[str, LatencySummary]  # operation → summary, for those with calls


def stats(
    db: Database, info: Mapping[str, Any] | None, latencies: Latencies, now: float | None = None
) -> Stats:
    """Users, ratings, the served model (its `info`, None without one) and recent latency."""
    return Stats(
        telegram_users=users.count(db, "telegram"),
        telegram_ratings=ratings.count(db, "telegram"),
        all_ratings=ratings.count(db),
        model=None if info is None else ModelSummary.of(info, now),
        latency=latencies.summaries(),
    )
