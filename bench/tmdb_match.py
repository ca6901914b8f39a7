"""What share of a catalogue each TMDb matching path resolves, against the local TMDb stand-in.

    python bench/tmdb_match.py --ml100k /work/data/ml100k.sqlite \\
        --ml-latest-small /work/data/ml-latest-small
    python bench/tmdb_match.py --ml-latest-small /work/data/ml-latest-small \\
        --write-sample tests/data/tmdb_sample.json      # regenerate the tests' seed sample
    python bench/tmdb_match.py ... --enrich-copy /tmp/ml100k-tmdb.sqlite  # keep an enriched copy

There is no internet here, so the stand-in (`emulator.tmdb`) is seeded with a TMDb-shaped
universe built from ml-latest-small: every movie with a tmdbId in its links.csv, under its
real TMDb and IMDb ids, with the title written as TMDb writes it (article in front, the
alternative title as `original_title`), its year, its genres as TMDb's, and its vote average
and count from the ml-latest-small ratings. Credits, keywords, overviews, runtimes and poster
paths are INVENTED, deterministically (a person's id comes from their name, so one person is
one entity across movies): directors and actors recur within a genre and decade like real
careers do, keywords come from the genres. About twenty famous films carry their real
directors, leading actors and writers (names real; person ids invented).

The figures then say how our matcher (`bot.tmdb.matching`) resolves each catalogue: by the
TMDb id of links.csv, by IMDb id through /find, by a confident title + year search, or not
at all; a search can only find what the universe holds, so for MovieLens 100K the share is
"of its movies that ml-latest-small also has, how many our search finds without mistakes".
Each figure is printed; nothing is asserted.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import csv
import hashlib
import json
import shutil
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bot.tmdb.client import TmdbClient
from bot.tmdb.enrich import enrich
from bot.tmdb.matching import match
from emulator.tmdb import TmdbStandIn
from storage import movies as movie_store
from storage.db import Database
from storage.movies import Movie, article_in_front, title_parts

KEY = "bench-key"
TMDB_GENRES = {
    "Action": (28, "Action"),
    "Adventure": (12, "Adventure"),
    "Animation": (16, "Animation"),
    "Children": (10751, "Family"),
    "Children's": (10751, "Family"),
    "Comedy": (35, "Comedy"),
    "Crime": (80, "Crime"),
    "Documentary": (99, "Documentary"),
    "Drama": (18, "Drama"),
    "Fantasy": (14, "Fantasy"),
    "Film-Noir": (80, "Crime"),
    "Horror": (27, "Horror"),
    "Musical": (10402, "Music"),
    "Mystery": (9648, "Mystery"),
    "Romance": (10749, "Romance"),
    "Sci-Fi": (878, "Science Fiction"),
    "Thriller": (53, "Thriller"),
    "War": (10752, "War"),
    "Western": (37, "Western"),
}
# Real directors, leading cast and writers of a few famous films, by TMDb id (person ids are
# invented by `person`); overviews are our own one-line summaries.
KNOWN: dict[int, tuple[list[str], list[str], list[str], str]] = {
    862: (["John Lasseter"], ["Tom Hanks", "Tim Allen", "Don Rickles"],
          ["Joss Whedon", "Andrew Stanton"],
          "A cowboy doll feels threatened when a space ranger action figure becomes the boy's "
          "new favourite toy."),
    949: (["Michael Mann"], ["Al Pacino", "Robert De Niro", "Val Kilmer"], ["Michael Mann"],
          "A driven detective and a disciplined master thief circle each other across Los "
          "Angeles & neither will back down."),
    603: (["Lana Wachowski", "Lilly Wachowski"],
          ["Keanu Reeves", "Laurence Fishburne", "Carrie-Anne Moss"],
          ["Lana Wachowski", "Lilly Wachowski"],
          "A hacker learns that the world he lives in is a simulation, and joins the rebels "
          "fighting the machines that run it."),
    238: (["Francis Ford Coppola"], ["Marlon Brando", "Al Pacino", "James Caan"],
          ["Mario Puzo", "Francis Ford Coppola"],
          "The ageing head of a crime family hands his empire to his reluctant youngest son."),
    348: (["Ridley Scott"], ["Sigourney Weaver", "Tom Skerritt", "John Hurt"],
          ["Dan O'Bannon"],
          "The crew of a commercial space tug answers a distress call and brings a deadly "
          "creature on board."),
    78: (["Ridley Scott"], ["Harrison Ford", "Rutger Hauer", "Sean Young"],
         ["Hampton Fancher", "David Peoples"],
         "A blade runner hunts four replicants who have come back to Earth to meet their "
         "maker."),
    680: (["Quentin Tarantino"], ["John Travolta", "Samuel L. Jackson", "Uma Thurman"],
          ["Quentin Tarantino", "Roger Avary"],
          "Two hit men, a boxer, a gangster's wife and a pair of diner bandits cross paths in "
          "Los Angeles."),
    275: (["Joel Coen"], ["Frances McDormand", "William H. Macy", "Steve Buscemi"],
          ["Joel Coen", "Ethan Coen"],
          "A car salesman's plan to have his wife kidnapped goes wrong, and a pregnant police "
          "chief investigates."),
    103: (["Martin Scorsese"], ["Robert De Niro", "Jodie Foster", "Cybill Shepherd"],
          ["Paul Schrader"],
          "A lonely Vietnam veteran driving a night cab in New York slides towards violence."),
    769: (["Martin Scorsese"], ["Robert De Niro", "Ray Liotta", "Joe Pesci"],
          ["Nicholas Pileggi", "Martin Scorsese"],
          "Thirty years in the life of Henry Hill, from errand boy to mobster to informant."),
    524: (["Martin Scorsese"], ["Robert De Niro", "Sharon Stone", "Joe Pesci"],
          ["Nicholas Pileggi", "Martin Scorsese"],
          "A casino boss runs Las Vegas for the mob until greed, love and a hot-headed friend "
          "bring it down."),
    11: (["George Lucas"], ["Mark Hamill", "Harrison Ford", "Carrie Fisher"], ["George Lucas"],
         "A farm boy joins a smuggler, a princess and an old knight against the Empire."),
    85: (["Steven Spielberg"], ["Harrison Ford", "Karen Allen", "Paul Freeman"],
         ["Lawrence Kasdan"],
         "An archaeologist races Nazi agents to find the Ark of the Covenant."),
    329: (["Steven Spielberg"], ["Sam Neill", "Laura Dern", "Jeff Goldblum"],
          ["Michael Crichton", "David Koepp"],
          "Cloned dinosaurs break loose on an island theme park during a preview visit."),
    424: (["Steven Spielberg"], ["Liam Neeson", "Ben Kingsley", "Ralph Fiennes"],
          ["Steven Zaillian"],
          "A German industrialist saves more than a thousand Jewish workers during the "
          "Holocaust."),
    578: (["Steven Spielberg"], ["Roy Scheider", "Robert Shaw", "Richard Dreyfuss"],
          ["Peter Benchley", "Carl Gottlieb"],
          "A police chief, a marine biologist and a shark hunter go after a great white."),
    500: (["Quentin Tarantino"], ["Harvey Keitel", "Tim Roth", "Michael Madsen"],
          ["Quentin Tarantino"],
          "After a jewel heist goes wrong, the surviving robbers suspect one of them is a cop."),
    1538: (["Michael Mann"], ["Tom Cruise", "Jamie Foxx", "Jada Pinkett Smith"],
           ["Stuart Beattie"],
           "A cab driver is forced to drive a hit man to five killings in one night."),
    9361: (["Michael Mann"], ["Daniel Day-Lewis", "Madeleine Stowe", "Russell Means"],
           ["Michael Mann", "Christopher Crowe"],
           "A frontiersman protects a British colonel's daughters during the French and "
           "Indian War."),
    98: (["Ridley Scott"], ["Russell Crowe", "Joaquin Phoenix", "Connie Nielsen"],
         ["David Franzoni", "John Logan"],
         "A betrayed Roman general fights his way back as a gladiator to face the emperor."),
}  # fmt: skip
FIRST = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Elena",
    "Frank",
    "Grace",
    "Henry",
    "Iris",
    "Jack",
    "Karen",
    "Leo",
    "Maria",
    "Noah",
    "Olga",
    "Paul",
    "Rosa",
    "Sam",
    "Tara",
    "Victor",
    "Wendy",
    "Yusuf",
    "Zoe",
    "Hugo",
    "Ines",
    "Marco",
    "Nadia",
    "Oscar",
    "Petra",
    "Ravi",
]
LAST = [
    "Abbott",
    "Brennan",
    "Castillo",
    "Dawson",
    "Ellery",
    "Fischer",
    "Garnier",
    "Holm",
    "Ivers",
    "Jansen",
    "Kovac",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Okafor",
    "Pereira",
    "Quinn",
    "Rossi",
    "Sato",
    "Tanaka",
    "Ulrich",
    "Varga",
    "Weston",
    "Yilmaz",
    "Zeller",
    "Barros",
    "Chen",
    "Dumont",
    "Eriksen",
    "Ferrante",
]
WORDS = {
    "Action": ["chase", "explosion", "heist", "martial arts", "revenge"],
    "Adventure": ["treasure", "expedition", "jungle", "quest", "island"],
    "Animation": ["talking animals", "toys", "fairy tale", "friendship"],
    "Children": ["family", "friendship", "school", "pets"],
    "Comedy": ["misunderstanding", "road trip", "wedding", "parody", "roommates"],
    "Crime": ["gangster", "detective", "robbery", "police", "mafia"],
    "Documentary": ["interview", "biography", "history", "nature"],
    "Drama": ["family", "loss", "coming of age", "small town", "redemption"],
    "Fantasy": ["magic", "dragon", "wizard", "another world"],
    "Film-Noir": ["femme fatale", "private eye", "murder"],
    "Horror": ["haunted house", "monster", "serial killer", "possession"],
    "Musical": ["musical", "dance", "broadway"],
    "Mystery": ["whodunit", "secret", "investigation"],
    "Romance": ["love", "first love", "love triangle", "paris"],
    "Sci-Fi": ["space", "robot", "time travel", "alien", "dystopia"],
    "Thriller": ["conspiracy", "hostage", "stalker", "spy"],
    "War": ["world war ii", "soldier", "battle", "vietnam war"],
    "Western": ["cowboy", "gunfight", "frontier", "outlaw"],
}
PLOTS = (
    "a stranger arrives with a secret",
    "two friends take one risk too many",
    "a family must face an old debt",
    "a promise made long ago comes due",
    "an unlikely team is thrown together",
    "one bad night changes everything",
)


def _hash(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def person(name: str) -> dict[str, Any]:
    """One person, the same id wherever they appear (an invented id, not TMDb's)."""
    return {"id": 1_000_000 + _hash("person", name) % 9_000_000, "name": name}


def _invented(kind: str, genre: str, decade: int, n: int) -> list[str]:
    """People who work in a genre and decade: a small pool, so careers recur."""
    pool = 4 if kind == "director" else 25
    return list(
        dict.fromkeys(
            f"{FIRST[_hash(kind, genre, decade, k, 'f') % len(FIRST)]} "
            f"{LAST[_hash(kind, genre, decade, k, 'l') % len(LAST)]}"
            for k in range(pool)
        )
    )[:n]


def tmdb_title(movielens_title: str) -> tuple[str, str, int | None]:
    """ "Hate (Haine, La) (1995)" → ("Hate", "La Haine", 1995)."""
    main, inner = title_parts(movielens_title)
    year = int(inner.pop()) if inner and inner[-1].isdigit() and len(inner[-1]) == 4 else None
    title = article_in_front(main)[0]
    original = article_in_front(inner[0])[0] if inner and "a.k.a." not in inner[0] else title
    return title, original, year


def details(
    tmdb_id: int, imdb: str, ml_title: str, genres: list[str], votes: tuple[float, int]
) -> dict[str, Any]:
    """A movie as TMDb's /movie/{id}?append_to_response=credits,keywords answers."""
    title, original, year = tmdb_title(ml_title)
    decade = (year or 2000) // 10 * 10
    main = genres[0] if genres else "Drama"
    h = _hash(tmdb_id)
    known = KNOWN.get(tmdb_id)
    if known:
        directors, cast, writers, overview = known
    else:
        picks = _invented("actor", main, decade, 25)
        pool = _invented("director", main, decade, 4)
        directors = [pool[h % len(pool)]]
        cast = [picks[(h >> s) % len(picks)] for s in (0, 3, 6, 9, 12, 15, 18, 21)]
        pool = _invented("writer", main, decade, 6)
        writers = [pool[(h >> 5) % len(pool)]]
        overview = f"{title}: {PLOTS[h % len(PLOTS)]} in this {decade}s {main.lower()} film."
    cast = list(dict.fromkeys(cast))
    words = sorted({w for g in genres for w in WORDS.get(g, [])[: 1 + h % 3]})
    mean, count = votes
    return {
        "adult": False,
        "backdrop_path": f"/{hashlib.sha1(f'b{tmdb_id}'.encode()).hexdigest()[:27]}.jpg",
        "genres": [{"id": i, "name": n} for i, n in dict.fromkeys(TMDB_GENRES[g] for g in genres)],
        "id": tmdb_id,
        "imdb_id": f"tt{int(imdb):07d}" if imdb.isdigit() else None,
        "original_language": "en" if original == title else "fr",
        "original_title": original,
        "overview": overview,
        "popularity": round(count * 0.37 + h % 7, 3),
        "poster_path": f"/{hashlib.sha1(f'p{tmdb_id}'.encode()).hexdigest()[:27]}.jpg",
        "release_date": f"{year}-{1 + h % 12:02d}-{1 + h % 28:02d}" if year else "",
        "runtime": 80 + h % 70,
        "tagline": "",
        "title": title,
        "video": False,
        "vote_average": round(mean * 2, 1),
        "vote_count": count * 40,
        "credits": {
            "cast": [
                person(n) | {"character": f"Role {i + 1}", "order": i}
                for i, n in enumerate(cast)
            ],
            "crew": [person(n) | {"job": "Director", "department": "Directing"} for n in directors]
            + [person(n) | {"job": "Screenplay", "department": "Writing"} for n in writers],
        },
        "keywords": {"keywords": [{"id": _hash("kw", w) % 300_000, "name": w} for w in words]},
    }  # fmt: skip


def universe(folder: Path) -> list[dict[str, Any]]:
    """Every ml-latest-small movie with a tmdbId, as TMDb details (see the module docstring)."""
    stars: dict[str, list[float]] = defaultdict(list)
    with open(folder / "ratings.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            stars[row["movieId"]].append(float(row["rating"]))
    with open(folder / "movies.csv", newline="") as fh:
        info = {r["movieId"]: r for r in csv.DictReader(fh)}
    found: dict[int, dict[str, Any]] = {}
    with open(folder / "links.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["tmdbId"] or row["movieId"] not in info:
                continue
            got = stars.get(row["movieId"], [3.0])
            movie = info[row["movieId"]]
            genres = [g for g in movie["genres"].split("|") if g in TMDB_GENRES]
            found.setdefault(
                int(row["tmdbId"]),
                details(
                    int(row["tmdbId"]), row["imdbId"], movie["title"], genres,
                    (sum(got) / len(got), len(got)),
                ),
            )  # fmt: skip
    return list(found.values())


def links_catalogue(folder: Path) -> list[Movie]:
    """ml-latest-small's movies as a catalogue that imported its links.csv holds them."""
    with open(folder / "links.csv", newline="") as fh:
        links = {r["movieId"]: r for r in csv.DictReader(fh)}
    out = []
    with open(folder / "movies.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            inner = title_parts(row["title"])[1]
            year = int(inner[-1]) if inner and inner[-1].isdigit() else None
            name = row["title"].rsplit(" (", 1)[0] if year else row["title"]
            link = links.get(row["movieId"], {})
            imdb, tmdb = link.get("imdbId") or "", link.get("tmdbId") or ""
            out.append(
                Movie(
                    int(row["movieId"]), name, year, (),
                    f"tt{imdb}" if imdb else None, int(tmdb) if tmdb else None,
                )
            )  # fmt: skip
    return out


async def resolve(stand_in: TmdbStandIn, catalogue: list[Movie]) -> tuple[Counter[str], float]:
    """How each movie is matched (its method; unmatched ones by why), and the seconds it took."""
    started = time.perf_counter()
    async with TmdbClient(stand_in.base_url, api_key=KEY, concurrency=8) as client:
        slots = asyncio.Semaphore(8)

        async def one(movie: Movie) -> str:
            async with slots:
                found = await match(client, movie)
            if found.details is not None:
                return found.method
            return "unmatched: " + (
                "ambiguous" if found.why.startswith("ambiguous")
                else "below threshold" if "sure" in found.why else found.why
            )  # fmt: skip

        methods = await asyncio.gather(*(one(m) for m in catalogue))
    return Counter(methods), time.perf_counter() - started


def report(name: str, methods: Counter[str], seconds: float) -> None:
    total = sum(methods.values())
    print(f"\n{name}: {total:,} movies, {seconds:.1f} s")
    unmatched = sum(n for k, n in methods.items() if k.startswith("unmatched"))
    rows = [(m, methods[m]) for m in ("tmdb_id", "imdb_id", "search")] + [("unmatched", unmatched)]
    rows += sorted((f"  {k[11:]}", n) for k, n in methods.items() if k.startswith("unmatched:"))
    for method, n in rows:
        print(f"  {method:<20} {n:>6,}  {n / max(total, 1):6.1%}")


def ml100k_movies(path: Path, work: Path) -> tuple[Path, list[Movie]]:
    """A copy of the MovieLens 100K database (the bench never migrates the original)."""
    copy = work / "ml100k.sqlite"
    shutil.copy(path, copy)
    with Database(copy) as db:
        return copy, movie_store.all_movies(db)


async def main_async(args: argparse.Namespace) -> None:
    folder = Path(args.ml_latest_small)
    movies = universe(folder)
    print(f"stand-in universe: {len(movies):,} TMDb-shaped movies from {folder}")
    if args.write_sample:
        sample = sorted(movies, key=lambda m: -m["popularity"])[: args.sample_size]
        chosen = {m["id"] for m in sample}
        sample += [m for m in movies if m["id"] in KNOWN and m["id"] not in chosen]
        sample.sort(key=lambda m: m["id"])
        Path(args.write_sample).write_text(json.dumps({"movies": sample}, indent=0) + "\n")
        print(f"wrote {len(sample)} movies to {args.write_sample}")
    if args.sample:
        movies = json.loads(Path(args.sample).read_text())["movies"]
        print(f"seeded instead with {args.sample}: {len(movies):,} movies")
    async with TmdbStandIn(movies, api_key=KEY) as stand_in:
        methods, seconds = await resolve(stand_in, links_catalogue(folder))
        report(f"ml-latest-small links.csv ({folder})", methods, seconds)
        if args.ml100k:
            with tempfile.TemporaryDirectory() as tmp:
                copy, catalogue = ml100k_movies(Path(args.ml100k), Path(tmp))
                methods, seconds = await resolve(stand_in, catalogue)
                report(f"MovieLens 100K ({args.ml100k}, no links: search only)", methods, seconds)
                if args.enrich_copy:
                    with Database(copy) as db:
                        async with TmdbClient(stand_in.base_url, api_key=KEY) as client:
                            summary = await enrich(db, client)
                    shutil.copy(copy, args.enrich_copy)
                    print(f"enriched copy: {args.enrich_copy} ({summary.methods})")
        print(f"\nrequests served by the stand-in: {len(stand_in.requests):,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ml-latest-small", required=True, metavar="FOLDER")
    parser.add_argument("--ml100k", metavar="SQLITE", help="a MovieLens 100K moviebot database")
    parser.add_argument("--sample", metavar="JSON", help="seed the stand-in with this instead")
    parser.add_argument("--write-sample", metavar="JSON", help="write the tests' seed sample")
    parser.add_argument("--sample-size", type=int, default=300)
    parser.add_argument("--enrich-copy", metavar="SQLITE", help="keep an enriched ML-100K copy")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
