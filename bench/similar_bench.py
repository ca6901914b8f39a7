"""How well `Recommender.similar` finds a movie's own franchise, for a few genre floors.

    python bench/similar_bench.py --db data/moviebot.sqlite
    python bench/similar_bench.py --db data/moviebot.sqlite --floors 1,0.5 --min-ratings 50

Nobody labelled which movies are alike, but titles say which belong together: "Die Hard" and
"Die Hard 2", "Star Trek III: …" and "Star Trek IV: …", "Godfather, The" and "Godfather: Part
II, The". Movies are grouped by the first two words of their title as search normalises it
(`storage.search.normalize`, English articles dropped; the one word of a one-word title), and
for every movie with at least `--min-ratings` ratings that shares its group with another, the
script asks `similar(movie, n=10)` and prints how often a group mate is among them (hit@10),
the mean share of its mates found (recall@10) and the mean genre cosine between the movie and
its 10 (genre agreement). The groups are rough (two unrelated "Star Maps" and "Star Wars" do
not share a group; "Wild Bill" and "Wild Bill: Hollywood Maverick" do), the same for every
floor, so the comparison is fair. `similarity_genre_floor` = 1 is taste alone; lower floors
weigh taste by shared genres (see `BlendConfig`).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import copy
from collections import defaultdict
from dataclasses import replace

import numpy as np
from recommend_bench import from_db

from recommender.hybrid import Recommender
from storage.search import ENGLISH_ARTICLES, normalize


def franchise(title: str) -> str:
    """The first two words of a title as search normalises it, without English articles
    (moved to the end or in front)."""
    return " ".join([w for w in normalize(title).split() if w not in ENGLISH_ARTICLES][:2])


def with_floor(model: Recommender, floor: float) -> Recommender:
    """The same fitted model, with another genre floor for `similar`."""
    hybrid = copy.copy(model._hybrid)
    hybrid.config = replace(
        hybrid.config, blend=replace(hybrid.config.blend, similarity_genre_floor=floor)
    )
    return Recommender(model.catalog, hybrid, model._predictor, model.info)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite database with a data set")
    parser.add_argument("--floors", default="1,0.75,0.5,0.25", help="genre floors to compare")
    parser.add_argument("--min-ratings", type=int, default=20, help="seed movies' ratings")
    parser.add_argument("--current", action="store_true", help="load the current model")
    args = parser.parse_args()
    model, _ = from_db(args.db, args.current)
    catalog = model.catalog
    groups: dict[str, list[int]] = defaultdict(list)
    for index, title in enumerate(catalog.titles):
        key = franchise(title)
        if len(key) >= 4:
            groups[key].append(index)
    counts = model._counts
    seeds = {
        index: set(members) - {index}
        for members in groups.values()
        if len(members) > 1
        for index in members
        if counts[index] >= args.min_ratings
    }
    print(
        f"{len(catalog):,} movies; {len(seeds)} with ≥ {args.min_ratings} ratings share a "
        "title group with another\n"
    )
    print("| genre floor | hit@10 | recall@10 | genre agreement@10 |")
    print("|---|---|---|---|")
    unit = model._genre_unit
    for floor in (float(f) for f in args.floors.split(",")):
        served = with_floor(model, floor)
        hits = recall = agreement = 0.0
        for index, mates in seeds.items():
            picks = served.similar(int(catalog.items.ids[index]), n=10)
            found = set(catalog.items.index_of([p.movie_id for p in picks]).tolist())
            hits += bool(found & mates)
            recall += len(found & mates) / len(mates)
            agreement += float(np.mean([unit[j] @ unit[index] for j in found])) if found else 0.0
        n = max(len(seeds), 1)
        print(f"| {floor:g} | {hits / n:.3f} | {recall / n:.3f} | {agreement / n:.3f} |")


if __name__ == "__main__":
    main()
