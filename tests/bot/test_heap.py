"""The serving heap kept out of full GC passes (bot.services.heap), and freed across a retrain."""

from __future__ import annotations

import gc
import weakref

import pytest

from bot.services import heap, open_services
from bot.services.training import Retrained


@pytest.fixture
def settled():
    """A process that settled its heap, as `moviebot run` does; unfrozen again afterwards."""
    yield heap.settle
    gc.unfreeze()
    gc.collect()


class Node:
    """An object in a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_settled_objects_are_skipped_by_full_passes_until_resettled(settled):
    cycle = Node()
    dead = weakref.ref(cycle)
    settled()
    assert gc.get_freeze_count() > 0
    del cycle
    gc.collect()
    assert dead() is not None  # frozen: a full pass does not walk it (the point of settling)
    heap.resettle()
    assert dead() is None and gc.get_freeze_count() > 0  # freed; what lives is settled again


def test_resettle_leaves_a_process_that_never_settled_alone():
    heap.resettle()
    assert gc.get_freeze_count() == 0


async def test_a_retrain_in_a_settled_process_frees_the_old_model(world, settled):
    services = open_services(world)
    try:
        old = services.model
        old.cycle = old  # a model holding a reference cycle, as any object graph may
        dead = weakref.ref(old)
        del old
        settled()
        assert isinstance(await services.training.retrain(), Retrained)
        assert dead() is None
    finally:
        services.close()
