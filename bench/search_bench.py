"""Time fuzzy title search on a catalogue the size of MovieLens 32M (about 87,000 titles).

    .venv/bin/python bench/search_bench.py [--titles 87000] [--repeat 20] [--db PATH]

Builds a synthetic but realistic catalogue: real titles written the MovieLens way ("Matrix, The",
"City of Lost Children, The (Cité des enfants perdus, La)", "Seven (Se7en)") plus generated
ones recombining their words with articles, sequels, alternative foreign titles, accents and
years, so many titles share words and near-duplicates abound. With --db the real titles come
from that database instead (e.g. after `moviebot data import ml-latest-small`). Popularity is
Zipf-like. It then times the index build and the latency of a fixed list of queries (typos,
articles, years, accents, alternative titles, nonsense, huge input), and prints p50/p95 and
each query's top hit. Not part of the test suite.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import movies as movie_store
from storage.db import Database
from storage.movies import Movie
from storage.search import TitleIndex, title_names

# Real titles as MovieLens writes them (title without the year, year).
REAL_TITLES: list[tuple[str, int]] = [
    ("Toy Story", 1995),
    ("Toy Story 2", 1999),
    ("Heat", 1995),
    ("Heat", 1986),
    ("Heat and Dust", 1983),
    ("Matrix, The", 1999),
    ("Matrix Reloaded, The", 2003),
    ("Godfather, The", 1972),
    ("Godfather: Part II, The", 1974),
    ("Godfather: Part III, The", 1990),
    ("Amélie (Fabuleux destin d'Amélie Poulain, Le)", 2001),
    ("City of Lost Children, The (Cité des enfants perdus, La)", 1995),
    ("Seven (Se7en)", 1995),
    ("Hate (Haine, La)", 1995),
    ("Boot, Das", 1981),
    ("Usual Suspects, The", 1995),
    ("Shawshank Redemption, The", 1994),
    ("Pulp Fiction", 1994),
    ("Forrest Gump", 1994),
    ("Schindler's List", 1993),
    ("Silence of the Lambs, The", 1991),
    ("Fargo", 1996),
    ("Star Wars: Episode IV - A New Hope", 1977),
    ("Star Wars: Episode V - The Empire Strikes Back", 1980),
    ("Alien", 1979),
    ("Aliens", 1986),
    ("Twelve Monkeys (a.k.a. 12 Monkeys)", 1995),
    ("Braveheart", 1995),
    ("Léon: The Professional (a.k.a. The Professional) (Léon)", 1994),
    ("Life Is Beautiful (La Vita è bella)", 1997),
    ("Lord of the Rings: The Fellowship of the Ring, The", 2001),
    ("Spirited Away (Sen to Chihiro no kamikakushi)", 2001),
    ("Crouching Tiger, Hidden Dragon (Wo hu cang long)", 2000),
    ("Blade Runner", 1982),
    ("Apocalypse Now", 1979),
    ("Casablanca", 1942),
    ("Vertigo", 1958),
    ("Psycho", 1960),
    ("Big Lebowski, The", 1998),
    ("Fight Club", 1999),
    ("American Beauty", 1999),
    ("Sixth Sense, The", 1999),
    ("Memento", 2000),
    ("Gladiator", 2000),
    ("Inception", 2010),
    ("Dark Knight, The", 2008),
    ("Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il)", 1966),
    ("Seven Samurai (Shichinin no samurai)", 1954),
    ("Rashomon (Rashômon)", 1950),
    ("Bicycle Thieves (a.k.a. The Bicycle Thief) (Ladri di biciclette)", 1948),
    ("400 Blows, The (Les quatre cents coups)", 1959),
    ("Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb", 1964),
    ("Wallace & Gromit: The Wrong Trousers", 1993),
    ("Monty Python and the Holy Grail", 1975),
    ("Princess Bride, The", 1987),
    ("Back to the Future", 1985),
    ("Terminator 2: Judgment Day", 1991),
    ("Jurassic Park", 1993),
    ("Titanic", 1997),
    ("Die Hard", 1988),
    ("Fugitive, The", 1993),
    ("Wizard of Oz, The", 1939),
    ("2001: A Space Odyssey", 1968),
    ("E.T. the Extra-Terrestrial", 1982),
    ("Sound of Music, The", 1965),
    ("Rear Window", 1954),
]

WORDS = [
    "love",
    "night",
    "day",
    "man",
    "woman",
    "city",
    "dark",
    "last",
    "first",
    "house",
    "blood",
    "dead",
    "king",
    "queen",
    "war",
    "world",
    "girl",
    "boy",
    "street",
    "river",
    "moon",
    "sun",
    "summer",
    "winter",
    "island",
    "road",
    "home",
    "black",
    "white",
    "red",
    "blue",
    "secret",
    "lost",
    "story",
    "life",
    "death",
    "time",
    "heart",
    "dream",
    "fire",
    "water",
    "ghost",
    "shadow",
    "storm",
    "wild",
    "angel",
    "devil",
    "star",
    "stars",
    "wars",
    "game",
    "hunter",
    "killer",
    "lady",
    "love",
    "letter",
    "mountain",
    "paradise",
    "party",
    "heaven",
    "hell",
    "journey",
    "legend",
    "little",
    "big",
    "great",
    "return",
    "revenge",
    "son",
    "daughter",
    "father",
    "mother",
    "brother",
    "sister",
    "family",
    "friend",
    "stranger",
    "enemy",
    "soldier",
    "spy",
    "doctor",
    "detective",
    "captain",
    "kid",
    "kids",
    "school",
    "summer",
    "holiday",
    "christmas",
    "wedding",
    "funeral",
    "murder",
    "mystery",
    "escape",
    "sea",
    "ocean",
    "forest",
    "desert",
    "garden",
    "train",
    "station",
    "bridge",
    "tower",
    "castle",
    "palace",
    "prison",
    "gold",
    "silver",
    "diamond",
    "money",
    "dollar",
    "million",
    "rain",
    "snow",
    "wind",
    "thunder",
    "lightning",
]
FOREIGN = [
    "amour",
    "nuit",
    "jour",
    "homme",
    "femme",
    "ville",
    "noir",
    "dernier",
    "maison",
    "sang",
    "mort",
    "roi",
    "reine",
    "guerre",
    "monde",
    "fille",
    "garçon",
    "rue",
    "rivière",
    "lune",
    "soleil",
    "été",
    "hiver",
    "île",
    "chemin",
    "vie",
    "temps",
    "cœur",
    "rêve",
    "feu",
    "amore",
    "notte",
    "giorno",
    "uomo",
    "donna",
    "città",
    "buio",
    "casa",
    "sangue",
    "morte",
    "re",
    "regina",
    "mondo",
    "ragazza",
    "liebe",
    "nacht",
    "tag",
    "mann",
    "frau",
    "stadt",
    "dunkel",
    "haus",
    "blut",
    "tod",
    "könig",
    "welt",
    "mädchen",
    "straße",
    "amor",
    "noche",
    "día",
    "hombre",
    "mujer",
    "ciudad",
    "oscuro",
    "casa",
    "sangre",
    "muerte",
    "rey",
    "reina",
    "mundo",
    "niña",
]
ARTICLES = ("The", "A", "La", "Le", "Les", "Il", "Das", "Der", "Die", "El", "Los")

# (query, what a person means); None: no title should come back.
QUERIES: list[tuple[str, str | None]] = [
    ("toy stroy", "Toy Story (1995)"),
    ("godfater", "The Godfather (1972)"),
    ("the godfather part 2", "The Godfather: Part II (1974)"),
    ("the matrix", "The Matrix (1999)"),
    ("matrix, the", "The Matrix (1999)"),
    ("heat 1995", "Heat (1995)"),
    ("heat (1986)", "Heat (1986)"),
    ("amelie", None),  # checked below: the top hit's label starts with "Amélie"
    ("cite des enfants perdus", None),
    ("city of lost children", None),
    ("la haine", "Hate (La Haine) (1995)"),
    ("das boot", "Das Boot (1981)"),
    ("se7en", "Seven (Se7en) (1995)"),
    ("12 monkeys", None),
    ("shawshenk redemtion", "The Shawshank Redemption (1994)"),
    ("empire strikes back", None),
    ("lord of the rings", None),
    ("silence of the lambs", "The Silence of the Lambs (1991)"),
    ("leon the professional", None),
    ("wallace and gromit", None),
    ("star wars", None),
    ("die hard", "Die Hard (1988)"),
    ("e.t.", None),
    ("qwxzv", None),
    ("asdfgh jkl", None),
    ("zzzz qqqq", None),
    ("x" * 10_000, None),
]
EXPECT_PREFIX: dict[str, str | tuple[str, ...]] = {
    "amelie": "Amélie",
    "cite des enfants perdus": "The City of Lost Children",
    "city of lost children": "The City of Lost Children",
    "12 monkeys": "Twelve Monkeys",
    "empire strikes back": ("Star Wars: Episode V", "The Empire Strikes Back"),  # ML-100K: 2nd
    "lord of the rings": "The Lord of the Rings",
    "leon the professional": "Léon",
    "wallace and gromit": "Wallace & Gromit",
    # The most rated of hundreds of "Star Wars" titles (ML-100K has a plain "Star Wars").
    "star wars": ("Star Wars: Episode IV", "Star Wars (1977)"),
    "e.t.": ("E.T. the Extra-Terrestrial", "Et ("),  # a generated title "Et" is exact
}
NONSENSE = {"qwxzv", "asdfgh jkl", "zzzz qqqq", "x" * 10_000}


def _accented(word: str, rng: random.Random) -> str:
    """Now and then put an accent on a vowel, as foreign titles have."""
    if rng.random() < 0.15:
        for plain, accented in (("e", "é"), ("a", "à"), ("o", "ö"), ("u", "ü"), ("i", "í")):
            if plain in word:
                return word.replace(plain, accented, 1)
    return word


SYLLABLES = [
    "ka",
    "ri",
    "mo",
    "ta",
    "na",
    "be",
    "lo",
    "vi",
    "sa",
    "en",
    "ul",
    "dor",
    "mar",
    "tin",
    "ha",
    "ko",
    "ru",
    "el",
    "an",
    "is",
    "ber",
    "gen",
    "ston",
    "ville",
    "ia",
    "os",
    "ar",
    "ne",
    "li",
    "za",
    "qu",
    "pe",
    "ro",
    "fa",
    "gi",
    "ch",
    "sh",
    "ov",
    "ek",
    "us",
]


def _name(rng: random.Random) -> str:
    """A made-up proper name ("Kalimor"): real catalogues are full of names and rare words."""
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def _phrase(rng: random.Random, vocab: list[str], low: int = 1, high: int = 4) -> str:
    words = [
        _name(rng) if rng.random() < 0.25 else _accented(rng.choice(vocab), rng)
        for _ in range(rng.randint(low, high))
    ]
    return " ".join(words).title().replace(" Of ", " of ").replace(" The ", " the ")


def synthetic_titles(seeds: list[str], n: int, rng: random.Random) -> list[str]:
    """`n` MovieLens-style titles recombining the seed titles' words with a fixed vocabulary."""
    seed_words = sorted({w for t in seeds for w in t.replace(",", " ").split() if w.isalpha()})
    vocab = WORDS + seed_words
    titles: list[str] = []
    while len(titles) < n:
        kind = rng.random()
        if kind < 0.30:
            title = _phrase(rng, vocab)
        elif kind < 0.45:
            title = f"{_phrase(rng, vocab)}, {rng.choice(ARTICLES)}"
        elif kind < 0.55:
            title = f"{_phrase(rng, vocab, 1, 2)} of the {_phrase(rng, vocab, 1, 2)}"
        elif kind < 0.65:
            base = rng.choice(seeds).split(" (")[0]
            title = f"{base} {rng.choice(['2', '3', 'II', 'III', 'Part 2', 'Returns'])}"
        elif kind < 0.75:
            foreign = _phrase(rng, FOREIGN, 1, 3)
            title = f"{_phrase(rng, vocab)} ({foreign}, {rng.choice(ARTICLES[2:])})"
        elif kind < 0.85:
            title = f"{rng.choice(seeds).split(' (')[0]}: {_phrase(rng, vocab, 1, 3)}"
        else:
            title = f"{_phrase(rng, FOREIGN, 1, 3)}"
        titles.append(title)
    return titles


def build_catalogue(n: int, seed: int, db_path: str | None) -> tuple[list[Movie], dict[int, int]]:
    """Real titles (built in, or from a database) plus generated ones, `n` in all."""
    rng = random.Random(seed)
    real = [Movie(i + 1, t, y, ()) for i, (t, y) in enumerate(REAL_TITLES)]
    if db_path:
        with Database(db_path) as db:
            real += [
                Movie(len(real) + i + 1, m.title, m.year, ())
                for i, m in enumerate(movie_store.all_movies(db))
            ]
    generated = synthetic_titles([m.title for m in real], max(0, n - len(real)), rng)
    catalogue = real + [
        Movie(len(real) + i + 1, t, rng.randint(1920, 2023), ()) for i, t in enumerate(generated)
    ]
    rng.shuffle(catalogue)
    # Zipf-like: a few movies have thousands of ratings, most have a handful.
    popularity = {m.id: int(50_000 / (rank + 1) ** 0.9) for rank, m in enumerate(catalogue)}
    for i, (_title, year) in enumerate(REAL_TITLES):  # the classics really are popular
        popularity[i + 1] = 20_000 + 100 * (len(REAL_TITLES) - i) + (year % 7)
    return catalogue, popularity


def misspell(text: str, rng: random.Random) -> str:
    """One typing slip inside `text`: two letters swapped, one dropped, doubled or replaced."""
    chars = list(text)
    i = rng.randrange(1, len(chars) - 1)
    slip = rng.choice(("swap", "drop", "double", "replace"))
    if slip == "swap":
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    elif slip == "drop":
        del chars[i]
    elif slip == "double":
        chars.insert(i, chars[i])
    else:
        chars[i] = rng.choice("abcdefghijklmnopqrstuvwxyz")
    return "".join(chars)


def typo_check(index: TitleIndex, catalogue: list[Movie], seed: int) -> None:
    """How often a misspelled real title still finds it first (a same-named remake counts):
    as a match, or else as the first "did you mean" suggestion (a word with two slips and
    under ten letters is not taken for a match, see `storage.search._slips`)."""
    rng = random.Random(seed)
    titles = {m.id: m.title for m in catalogue}
    hits = offered = tries = 0
    for movie_id, (title, _) in enumerate(REAL_TITLES, start=1):
        name = title_names(title)[0].lower()
        for query in (misspell(name, rng), misspell(name, rng), misspell(misspell(name, rng), rng)):
            found = index.search(query, limit=1)
            hit = bool(found) and titles[found[0].movie_id] == titles[movie_id]
            close = [] if found else index.suggest(query, limit=1)
            hits += hit
            offered += hit or (bool(close) and titles[close[0].movie_id] == titles[movie_id])
            tries += 1
    print(
        f"misspelled real titles found first: {hits}/{tries} ({hits / tries:.1%}); "
        f"found or suggested first: {offered}/{tries} ({offered / tries:.1%})"
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", type=int, default=87_000, help="catalogue size")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs of each query")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--db", help="also take real titles from this moviebot database")
    args = parser.parse_args()

    catalogue, popularity = build_catalogue(args.titles, args.seed, args.db)
    started = time.perf_counter()
    index = TitleIndex.build(catalogue, popularity)
    build_s = time.perf_counter() - started
    print(f"catalogue: {len(index):,} titles; index build: {build_s:.2f} s")
    # Other work on the machine slows every figure: say how busy it was.
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")

    all_times: list[float] = []
    wrong = 0
    print(f"{'query':32} {'p50 ms':>7} {'p95 ms':>7}  top hit (score)")
    for query, expected in QUERIES:
        index.search(query)  # warm up
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            hits = index.search(query)
            times.append((time.perf_counter() - started) * 1000)
        all_times += times
        top = f"{hits[0].label} ({hits[0].score:g})" if hits else "— no match"
        if query in NONSENSE:
            ok = not hits
        elif expected is not None:
            ok = bool(hits) and hits[0].label == expected
        else:
            ok = bool(hits) and hits[0].label.startswith(EXPECT_PREFIX[query])
        wrong += not ok
        shown = query if len(query) <= 30 else f"{query[:12]}… ({len(query):,} chars)"
        print(
            f"{shown:32} {statistics.median(times):7.2f} {percentile(times, 95):7.2f}  "
            f"{top}{'' if ok else '   <-- unexpected'}"
        )
    print(
        f"all queries: p50 {statistics.median(all_times):.2f} ms, "
        f"p95 {percentile(all_times, 95):.2f} ms, max {max(all_times):.2f} ms "
        f"over {len(all_times)} searches; {len(QUERIES) - wrong}/{len(QUERIES)} as expected"
    )
    typo_check(index, catalogue, args.seed)
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
