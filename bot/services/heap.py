"""The serving process's long-lived heap, kept out of the garbage collector's full passes.

A served model, the catalogue and the title index are over a hundred thousand Python objects
that live as long as the process. CPython's full (generation 2) collection walks every one of
them: 46-98 ms on MovieLens 100K (bench/heap_bench.py), on whichever thread triggers it,
holding the GIL, so every chat and page waiting meanwhile stalls (the web bench's p99 tail).
`gc.freeze()` moves what is alive now to a permanent generation those passes skip; reference
counting still frees it.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what is garbage now, then keep everything alive out of later full passes:
    once the services are open, in a process that serves (`moviebot run`, `moviebot chat`)."""
    gc.collect()
    gc.freeze()


def resettle() -> None:
    """After a model swap, in a process that settled: the old model's cycles (frozen objects
    are never collected) are freed, and the new model is settled in turn."""
    if gc.get_freeze_count():
        gc.unfreeze()
        settle()
