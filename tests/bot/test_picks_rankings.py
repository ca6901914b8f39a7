"""The picks service remembers the model's recent rankings (`Rankings`): a repeated request is
answered without the model, and the answer is always exactly the model's for the person's
current ratings, dismissals, watchlist and filters, and for the model being served now."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.services import Services, open_services, people
from bot.services.people import Person
from bot.services.picks import Rankings, Request
from recommender.explain import Reason
from recommender.hybrid import Pick, Recommender
from storage.ratings import History

IVY = Person(71, "Ivy")
FIVE = Request(n=5)


@pytest.fixture
def services(world) -> Iterator[Services]:
    opened = open_services(world)
    yield opened
    opened.close()


class Counting:
    """The served model, counting the rankings it is asked for."""

    def __init__(self, model: Recommender) -> None:
        self.model = model
        self.calls = 0

    def recommend(self, *args, **kwargs) -> list[Pick]:
        self.calls += 1
        return self.model.recommend(*args, **kwargs)


class Reversed(Counting):
    """Another model: the same movies, the other way round."""

    def recommend(self, *args, **kwargs) -> list[Pick]:
        return super().recommend(*args, **kwargs)[::-1]


def shown(services: Services, request: Request = FIVE, offset: int = 0) -> list[int]:
    page = services.picks.recommend(IVY, request, offset)
    return [s.movie.id for s in page.suggestions]


def uncached(services: Services, request: Request = FIVE, offset: int = 0) -> list[int]:
    """What the model answers today, asked directly."""
    model = services.models.current
    assert model is not None
    history = people.history(services.db, IVY)
    found = model.recommend(
        history.ratings,
        n=request.n + offset + 1,
        exclude=history.dismissed | history.watchlist,
        filters=request.filters(services.catalog.genres()),
    )
    return [p.movie_id for p in found[offset : offset + request.n]]


def test_a_repeated_request_is_answered_without_asking_the_model_again(services):
    counting = Counting(services.models.current)
    services.models.current = counting  # type: ignore[assignment]
    services.feedback.rate(IVY, 1, 10)
    first = shown(services)
    assert shown(services) == first and counting.calls == 1
    shown(services, offset=5)  # the next page is another ranking (one longer)
    shown(services, Request(n=5, genres=(0,)))  # and so is a filtered one
    assert counting.calls == 3
    assert shown(services) == first and shown(services, offset=5) == shown(services, offset=5)
    assert counting.calls == 3


def test_a_rating_a_dismissal_or_a_watchlist_change_shows_in_the_next_picks_at_once(services):
    services.feedback.rate(IVY, 1, 10)
    before = shown(services)
    assert before == uncached(services)
    services.feedback.rate(IVY, before[0], 2)  # rated: gone, and the taste moved
    after_rating = shown(services)
    assert before[0] not in after_rating and after_rating == uncached(services)
    services.feedback.rate(IVY, before[0], 10)  # re-rated: a new answer again
    assert shown(services) == uncached(services)
    services.feedback.dismiss(IVY, after_rating[0])
    after_dismissal = shown(services)
    assert after_rating[0] not in after_dismissal and after_dismissal == uncached(services)
    services.watchlist.add(IVY, after_dismissal[0])
    listed = shown(services)
    assert after_dismissal[0] not in listed and listed == uncached(services)
    services.watchlist.remove(IVY, after_dismissal[0])  # off the list: it may come back
    assert shown(services) == uncached(services) == after_dismissal


def test_a_model_swap_shows_in_the_next_picks_at_once(services):
    services.feedback.rate(IVY, 1, 10)
    model = services.models.current
    before = shown(services)
    services.models.swap(Reversed(model))  # type: ignore[arg-type]
    after = shown(services)
    assert after == uncached(services) and after != before
    services.models.swap(model)  # back (a rollback): the first model's answer, not the cache's
    assert shown(services) == before


def test_the_remembered_rankings_are_bounded_and_forget_the_least_recent_person_first():
    class Model:  # any object a weak reference can hold
        pass

    model, rankings = Model(), Rankings(held=8)
    picks = (Pick(1, 1.0, None, Reason("popular")), Pick(2, 0.5, None, Reason("popular")))
    two = History({1: 4.0, 2: 3.0}, frozenset(), frozenset())  # 2 ratings + 2 picks: size 4
    key = (None, 2)
    assert rankings.get(model, 1, two, key) is None
    rankings.put(model, 1, two, key, picks)
    rankings.put(model, 2, two, key, picks)
    assert rankings.get(model, 1, two, key) == picks  # Ann asked last…
    rankings.put(model, 3, two, key, picks)  # …so Bob is forgotten for Cy
    assert rankings.get(model, 2, two, key) is None
    assert rankings.get(model, 1, two, key) == rankings.get(model, 3, two, key) == picks
    moved = History({1: 4.0, 2: 3.5}, frozenset(), frozenset())  # a re-rating
    assert rankings.get(model, 1, moved, key) is None
    assert rankings.get(model, 1, two, (None, 3)) is None  # another length
    assert rankings.get(Model(), 1, two, key) is None  # another model: all forgotten
    assert rankings.get(model, 1, two, key) is None
