"""What a full garbage collection costs a serving process, before and after it settles its heap.

    python bench/heap_bench.py --db data/moviebot.sqlite
    python bench/heap_bench.py --db /tmp/moviebot-bench/work-x1/moviebot.sqlite \\
        --model-dir /tmp/moviebot-bench/work-x1/models                  # bench/scale.py's 100%

Opens the services as `moviebot run` does (model, catalogue, title index), then times CPython's
full collection (`gc.collect()`) a few times, `heap.settle()` (what `moviebot run` and `chat`
do once the services are open), full collections again, and `heap.resettle()` (what a model
swap costs). Changes nothing in the database.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.services import heap, open_services  # noqa: E402
from bot.settings import Settings  # noqa: E402


def timed_ms(fn: Callable[[], object], times: int) -> list[float]:
    took = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        took.append((time.perf_counter() - start) * 1000)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a moviebot database with a trained model")
    parser.add_argument("--model-dir", help="its model folder (default: MOVIEBOT_MODEL_DIR)")
    parser.add_argument("--passes", type=int, default=3, help="full collections timed each way")
    args = parser.parse_args()
    settings = replace(Settings.from_env(env_file=None), db_path=Path(args.db))
    if args.model_dir:
        settings = replace(settings, model_dir=Path(args.model_dir))
    services = open_services(settings)
    try:
        print(f"objects the collector tracks: {len(gc.get_objects()):,}")
        before = timed_ms(gc.collect, args.passes)
        settle = timed_ms(heap.settle, 1)
        after = timed_ms(gc.collect, args.passes)
        resettle = timed_ms(heap.resettle, 1)
        print("full collection, ms: " + " ".join(f"{t:.1f}" for t in before))
        print(f"heap.settle: {settle[0]:.1f} ms")
        print("full collection once settled, ms: " + " ".join(f"{t:.3f}" for t in after))
        print(f"heap.resettle (after a model swap): {resettle[0]:.1f} ms")
    finally:
        gc.unfreeze()
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
