"""Service calls that compute (rank with the model, search titles) rather than wait.

`Services.call` runs these on a lane of `LANE` worker threads of their own, not on the pool of
32 that also holds writers waiting for a lock. They only read (WAL readers never wait for a
writer), so a few threads cannot starve; and CPU-bound Python in 32 threads at once only
queues on the interpreter lock, where each switch between threads costs every call in flight
(bench/web_bench.py, 50 people at once on 2 cores: the picks page's p99 338 → 155 ms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
LANE = 2  # threads that compute at once: the machine's cores, as a rule
_COMPUTING: set[Callable[..., Any]] = set()


def computes(fn: F) -> F:
    """Mark a read-only service method whose time goes to computing."""
    _COMPUTING.add(fn)
    return fn


def is_computing(fn: Callable[..., Any]) -> bool:
    """Is `fn` (a function, or a service's bound method) marked with `computes`?"""
    return getattr(fn, "__func__", fn) in _COMPUTING
