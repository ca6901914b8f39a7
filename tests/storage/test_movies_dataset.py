"""Importing The Movies Dataset: movies_metadata.csv, credits.csv, keywords.csv, links.csv."""

from __future__ import annotations

import csv
import zlib
from pathlib import Path

import pytest

from storage import metadata
from storage.db import Database
from storage.importers.movies_dataset import import_metadata
from storage.importers.sources import DataFormatError

HEADER = [
    "adult",
    "belongs_to_collection",
    "budget",
    "genres",
    "homepage",
    "id",
    "imdb_id",
    "original_language",
    "original_title",
    "overview",
    "popularity",
    "poster_path",
    "production_companies",
    "production_countries",
    "release_date",
    "revenue",
    "runtime",
    "spoken_languages",
    "status",
    "tagline",
    "title",
    "video",
    "vote_average",
    "vote_count",
]


def details(tmdb_id, imdb, title, date, overview="", runtime="100.0", poster="/p.jpg"):
    return {
        "adult": "False", "id": str(tmdb_id), "imdb_id": imdb, "original_language": "en",
        "original_title": title, "overview": overview, "poster_path": poster,
        "release_date": date, "runtime": runtime, "title": title, "vote_average": "7.7",
        "vote_count": "1886", "tagline": "", "genres": "[]",
    }  # fmt: skip


def cast(*names):
    return repr(
        [
            {"cast_id": i, "character": "", "id": zlib.crc32(n.encode()), "name": n, "order": i}
            for i, n in enumerate(names)
        ]
    )


def crew(director, writer=None):
    people = [
        {
            "department": "Directing",
            "id": zlib.crc32(director.encode()),
            "job": "Director",
            "name": director,
        }
    ]
    if writer:
        people.append(
            {
                "department": "Writing",
                "id": zlib.crc32(writer.encode()),
                "job": "Screenplay",
                "name": writer,
            }
        )
    return repr(people)


def write(folder: Path, name: str, header: list[str], rows: list[dict[str, str]]) -> None:
    with open(folder / name, "w", newline="", encoding="utf-8") as fh:
        out = csv.DictWriter(fh, header)
        out.writeheader()
        out.writerows(rows)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "the-movies-dataset"
    folder.mkdir()
    write(
        folder,
        "movies_metadata.csv",
        HEADER,
        [
            details(
                862,
                "tt0114709",
                "Toy Story",
                "1995-10-30",
                "Led by Woody,\nAndy's toys live happily.",
            ),
            details(
                949, "tt0113277", "Heat", "1995-12-15", "Obsessive master thief & cop.", "170.0"
            ),
            details(603, "tt0133093", "The Matrix", "1999-03-30", "Neo <the One>."),
            details(5, "tt0113101", "Four Rooms", "1995-12-09"),
        ],
    )
    write(
        folder,
        "credits.csv",
        ["cast", "crew", "id"],
        [
            {
                "cast": cast("Tom Hanks", "Tim Allen"),
                "crew": crew("John Lasseter", "Joss Whedon"),
                "id": "862",
            },
            {
                "cast": cast("Al Pacino", "Robert De Niro"),
                "crew": crew("Michael Mann"),
                "id": "949",
            },
            {"cast": cast("Keanu Reeves"), "crew": crew("Lana Wachowski"), "id": "603"},
        ],
    )
    write(
        folder,
        "keywords.csv",
        ["id", "keywords"],
        [
            {
                "id": "862",
                "keywords": repr([{"id": 931, "name": "jealousy"}, {"id": 4290, "name": "toy"}]),
            },
            {"id": "949", "keywords": repr([{"id": 642, "name": "robbery"}])},
        ],
    )
    write(
        folder,
        "links.csv",
        ["movieId", "imdbId", "tmdbId"],
        [
            {"movieId": "1", "imdbId": "0114709", "tmdbId": "862.0"},
            {"movieId": "2", "imdbId": "0113277", "tmdbId": "949"},
            {"movieId": "6", "imdbId": "0000001", "tmdbId": ""},
        ],
    )
    return folder


def test_the_files_are_joined_to_the_catalogue_through_links_and_titles(tiny_catalog, files):
    result = import_metadata(tiny_catalog, files)
    assert result.stored == 3 and result.rows == 4 and result.catalogue == 7
    assert result.matched == {"links.csv": 2, "title and year": 1}
    toy = metadata.get(tiny_catalog, 1)
    assert toy.match == "import" and toy.tmdb_id == 862 and toy.imdb_id == "tt0114709"
    assert toy.overview == "Led by Woody,\nAndy's toys live happily."  # a quoted line break
    assert [p.name for p in toy.cast] == ["Tom Hanks", "Tim Allen"]
    assert [p.name for p in toy.directors] == ["John Lasseter"]
    assert [p.name for p in toy.writers] == ["Joss Whedon"] and toy.keywords == ("jealousy", "toy")
    assert metadata.get(tiny_catalog, 2).runtime == 170
    matrix = metadata.get(tiny_catalog, 3)  # "Matrix, The" (1999) by its title and year
    assert matrix.tmdb_id == 603 and [p.name for p in matrix.cast] == ["Keanu Reeves"]


def test_movielens_100k_ids_are_never_joined_through_links(tiny_catalog, files):
    tiny_catalog.set_meta("dataset", "ml-100k")
    with open(files / "links.csv", "a") as fh:
        fh.write("3,0133093,949\n")  # in ml-latest, movie 3 is another film
    result = import_metadata(tiny_catalog, files)
    assert result.matched == {"title and year": 3}
    assert metadata.get(tiny_catalog, 3).tmdb_id == 603


def bad_credits(files: Path, value: str) -> None:
    with open(files / "credits.csv", "a", newline="") as fh:
        csv.writer(fh).writerow([value, "[]", "5"])


@pytest.mark.parametrize(
    "value",
    [
        "[{'name': 'unterminated'",
        "__import__('os').system('touch /tmp/pwned')",  # never evaluated: not a literal
        "{'a': 1}",  # a literal, but not a list of records
    ],
)
def test_a_bad_row_names_its_file_and_line_and_nothing_is_imported(tiny_catalog, files, value):
    bad_credits(files, value)
    with pytest.raises(DataFormatError, match=r"credits\.csv line 5: cast .*nothing was imported"):
        import_metadata(tiny_catalog, files)
    assert metadata.tried(tiny_catalog) == set()
    assert not Path("/tmp/pwned").exists()


def test_the_line_counts_rows_that_span_lines(tiny_catalog, files):
    with open(files / "movies_metadata.csv", "a", newline="") as fh:
        row = details("1997-08-20", "tt1", "Shifted", "1997")  # the real file has a few of these
        csv.DictWriter(fh, HEADER).writerow(row)
    with pytest.raises(DataFormatError, match=r"movies_metadata\.csv line 7: id '1997-08-20'"):
        import_metadata(tiny_catalog, files)


def test_bad_rows_can_be_skipped_and_are_listed(tiny_catalog, files):
    bad_credits(files, "[oops")
    result = import_metadata(tiny_catalog, files, skip_bad_rows=True)
    assert result.stored == 3
    assert result.bad_rows == ["credits.csv line 5: cast is not a list literal"]


def test_a_missing_file_is_named(tiny_catalog, files):
    (files / "keywords.csv").unlink()
    with pytest.raises(DataFormatError, match=r"keywords\.csv is missing"):
        import_metadata(tiny_catalog, files)


def test_the_command_prints_what_it_imported(tiny_catalog, files, tmp_path, capsys):
    from bot.cli import main

    path = tmp_path / "catalog.sqlite"
    with Database(path) as db:
        from storage import movies

        movies.upsert_many(db, [m for m in movies.all_movies(tiny_catalog)])
    assert (
        main(["--env-file", "/dev/null", "--db", str(path), "data", "import-metadata", str(files)])
        == 0
    )
    out = capsys.readouterr().out
    assert "Imported metadata for 3 of 7 catalogue movies from 4 rows" in out
    assert "2 by links.csv, 1 by title and year" in out
    bad_credits(files, "[oops")
    assert (
        main(["--env-file", "/dev/null", "--db", str(path), "data", "import-metadata", str(files)])
        == 1
    )
    assert "credits.csv line 5" in capsys.readouterr().err
