"""`moviebot data enrich`: every catalogue movie matched on TMDb and its metadata stored.

Workers (as many as the client lets run at once) take movies from a queue; each result goes
to storage in small batches, and what is pending is written even when the run is interrupted
or fails, so nothing fetched is lost and the next run resumes with the movies not yet tried
(`refresh=True` tries every movie again). Movies left unmatched are recorded too, so a resumed
run does not search for them again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.tmdb.client import TmdbClient
from bot.tmdb.matching import Match, imdb_tag, match
from storage import metadata
from storage import movies as movie_store
from storage.db import Database
from storage.metadata import Credited, Metadata
from storage.movies import Movie

TOP_CAST = 8
BATCH = 25  # results written per transaction
WORKERS = 8
WRITING = "Writing"  # TMDb's crew department of screenplay, story, novel, …


@dataclass
class Summary:
    """What a run did: how many movies were matched each way, and which were not."""

    total: int = 0  # movies in the catalogue
    skipped: int = 0  # done by an earlier run
    methods: Counter[str] = field(default_factory=Counter)
    unmatched: list[tuple[Movie, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return sum(self.methods.values())


def _people(found: Iterable[dict[str, Any]], limit: int | None = None) -> tuple[Credited, ...]:
    """People in order, each once (TMDb lists a writer once per job)."""
    seen: dict[int, Credited] = {}
    for person in found:
        if person.get("id") is not None and person.get("name"):
            seen.setdefault(int(person["id"]), Credited(int(person["id"]), str(person["name"])))
    return tuple(seen.values())[:limit]


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    try:
        return None if value in (None, "") else kind(value)
    except (TypeError, ValueError):
        return None


def from_details(movie_id: int, method: str, details: dict[str, Any], now: int) -> Metadata:
    """TMDb's movie details (with credits and keywords appended) as what we store."""
    credits = details.get("credits") or {}
    crew = list(credits.get("crew") or [])
    cast = sorted(credits.get("cast") or [], key=lambda p: _number(p.get("order"), int) or 0)
    words = (details.get("keywords") or {}).get("keywords") or []
    words = [w for w in words if w.get("id") is not None and w.get("name")]
    return Metadata(
        movie_id=movie_id,
        match=method,
        fetched_at=now,
        tmdb_id=_number(details.get("id"), int),
        imdb_id=imdb_tag(details.get("imdb_id")),
        overview=str(details.get("overview") or "").strip(),
        tagline=str(details.get("tagline") or "").strip(),
        runtime=_number(details.get("runtime"), int) or None,
        original_language=details.get("original_language") or None,
        poster_path=details.get("poster_path") or None,
        backdrop_path=details.get("backdrop_path") or None,
        vote_average=_number(details.get("vote_average"), float),
        vote_count=_number(details.get("vote_count"), int),
        directors=_people(p for p in crew if p.get("job") == "Director"),
        cast=_people(cast, TOP_CAST),
        writers=_people(p for p in crew if p.get("department") == WRITING),
        keywords=tuple(str(w["name"]) for w in words),
        keyword_ids=tuple(int(w["id"]) for w in words),
    )


def as_metadata(found: Match, now: int) -> Metadata:
    if found.details is None:
        return metadata.unmatched(found.movie_id, now)
    return from_details(found.movie_id, found.method, found.details, now)


async def enrich(
    db: Database,
    client: TmdbClient,
    *,
    refresh: bool = False,
    limit: int | None = None,
    workers: int = WORKERS,
    progress: Callable[[int], object] | None = None,
    clock: Callable[[], float] = time.time,
) -> Summary:
    """Match and store the catalogue's movies not tried yet (all of them with `refresh`), at
    most `limit` of them; `progress(n)` is called as each movie is done."""
    started = time.monotonic()
    everything = movie_store.all_movies(db)
    done = set() if refresh else metadata.tried(db)
    todo = [m for m in everything if m.id not in done][:limit]
    summary = Summary(total=len(everything), skipped=len(everything) - len(todo))
    queue: asyncio.Queue[Movie] = asyncio.Queue()
    for movie in todo:
        queue.put_nowait(movie)
    pending: list[Metadata] = []

    def flush() -> None:
        metadata.save(db, pending)
        pending.clear()

    async def work() -> None:
        while not queue.empty():
            movie = queue.get_nowait()
            found = await match(client, movie)
            pending.append(as_metadata(found, int(clock())))
            summary.methods[found.method] += 1
            if found.details is None:
                summary.unmatched.append((movie, found.why))
            if progress is not None:
                progress(1)
            if len(pending) >= BATCH:
                flush()

    tasks = [asyncio.create_task(work()) for _ in range(max(1, min(workers, len(todo))))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        flush()  # what was fetched before a failure or an interruption is kept
        summary.seconds = time.monotonic() - started
    return summary
