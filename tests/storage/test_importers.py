"""MovieLens importers: every format, the awkward titles, one transaction, clear errors."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from bot.cli import main
from storage import movies, users
from storage.db import Database
from storage.importers import movielens
from storage.importers.movielens import (
    DataFormatError,
    DatasetMismatchError,
    feature_counts,
    import_dataset,
    split_title,
    summary,
)
from storage.importers.tables import TableSpec, read_chunks

# ---------------------------------------------------------------- fixture data sets, per format
# Each writer puts one small data set, in its real on-disk format, into a folder.

LATEST_MOVIES = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
2,"Matrix, The (1999)",Action|Sci-Fi|Thriller
3,"American President, The (1995)",Comedy|Drama|Romance
4,"Cité des enfants perdus, La (City of Lost Children, The) (1995)",Adventure|Drama|Fantasy
5,Black Mirror,(no genres listed)
6,"Misérables, Les (1995) ",Drama|War
7,Babylon 5 (1994-1998),Sci-Fi
"""
LATEST_RATINGS = """userId,movieId,rating,timestamp
1,1,4.0,964982703
1,2,4.5,964981247
1,4,3.0,964982224
2,2,0.5,1445714835
2,3,5.0,1445714885
3,5,3.5,1306463578
3,6,2.0,1306463600
3,7,1.5,1306463601
"""
LATEST_TAGS = """userId,movieId,tag,timestamp
1,2,Funny,1445714994
2,2, funny ,1445714996
3,2,"dark, moody",1445714992
3,4,Jean-Pierre Jeunet,1445715000
3,4,   ,1445715001
"""
LATEST_LINKS = """movieId,imdbId,tmdbId
1,0114709,862
2,0133093,603
5,2085059,
"""


def write_latest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(LATEST_MOVIES, encoding="utf-8")
    (folder / "ratings.csv").write_text(LATEST_RATINGS)
    (folder / "tags.csv").write_text(LATEST_TAGS, encoding="utf-8")
    (folder / "links.csv").write_text(LATEST_LINKS)
    return folder


def _flags(*genres: int) -> str:
    return "|".join("1" if i in genres else "0" for i in range(19))


ML100K_ITEMS = (
    "\n".join(
        [
            f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/x|{_flags(3, 4, 5)}",
            f"2|Cité des enfants perdus, La (1995)|01-Jan-1995||http://x|{_flags(2, 15)}",
            f"3|Usual Suspects, The (1995)|14-Aug-1995||http://x|{_flags(6, 16)}",
            f"4|unknown||||{_flags(0)}",
            f"5|Land Before Time III: The Time of the Great Giving (1995) (V)|||x|{_flags(3)}",
            f"6|Seven (Se7en) (1995)|01-Jan-1995||http://x|{_flags(6, 16)}",
        ]
    )
    + "\n"
)
ML100K_DATA = (
    "196\t1\t3\t881250949\n186\t2\t3\t891717742\n22\t3\t1\t878887116\n196\t6\t5\t881251000\n"
)
ML100K_USERS = "196|49|M|writer|55105\n186|39|F|executive|00000\n22|25|M|writer|40206\n"


def write_ml100k(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.item").write_bytes(ML100K_ITEMS.encode("latin-1"))
    (folder / "u.data").write_text(ML100K_DATA)
    (folder / "u.user").write_text(ML100K_USERS)
    (folder / "u.genre").write_text("unknown|0\nAction|1\n")
    return folder


ML1M_MOVIES = (
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Cité des enfants perdus, La (1995)::Adventure|Sci-Fi\n"
    "3::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Fantasy|Sci-Fi\n"
)
ML1M_RATINGS = "1::1::5::978300760\n1::2::3::978302109\n2::3::4::978301968\n"
ML1M_USERS = "1::F::1::10::48067\n2::M::56::16::70072\n"


def write_ml1m(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.dat").write_bytes(ML1M_MOVIES.encode("latin-1"))
    (folder / "ratings.dat").write_text(ML1M_RATINGS)
    (folder / "users.dat").write_text(ML1M_USERS)
    return folder


RECBOLE = {
    "ml-100k.inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    "196\t1\t3\t881250949\n186\t2\t3\t891717742\n22\t12\t1\t878887116\n",
    "ml-100k.item": "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    "1\tToy Story\t1995\tAnimation Children's Comedy\n"
    "2\tMisérables, Les\t1995\tDrama Musical\n"
    "12\tUsual Suspects, The\t1995\tCrime Film-Noir Sci-Fi\n"
    "267\tunkonwn\tunkonwn\tunknown\n",
    "ml-100k.user": "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    "196\t49\tM\twriter\t55105\n186\t39\tF\texecutive\t00000\n22\t25\tM\twriter\t40206\n",
    "ml-100k.link": "item_id:token\tentity_id:token\n1\tm.0dyb1\n12\tm.0gksh95\n",
    "ml-100k.kg": "head_id:token\trelation_id:token\ttail_id:token\n"
    "m.0dyb1\tfilm.film.actor\tm.0c1pj\n"
    "m.0dyb1\tfilm.film.directed_by\tm.0py9b\n"
    "m.0gksh95\tfilm.film.directed_by\tm.0py9b\n"
    "m.0gksh95\tfilm.film.subjects\tm.04xvh5\n"
    "m.0c1pj\tfilm.actor.film\tm.0dyb1\n"
    "m.0nothere\tfilm.film.actor\tm.0c1pj\n",
}


def write_recbole(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in RECBOLE.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


WRITERS = {"latest": write_latest, "ml100k": write_ml100k, "ml1m": write_ml1m,
           "recbole": write_recbole}  # fmt: skip
FOLDERS = {"latest": "ml-latest-small", "ml100k": "ml-100k", "ml1m": "ml-1m",
           "recbole": "ml-100k"}  # fmt: skip


def dataset(tmp_path: Path, kind: str) -> Path:
    return WRITERS[kind](tmp_path / FOLDERS[kind])


def snapshot(db: Database) -> list[str]:
    return list(db.conn.iterdump())


# ---------------------------------------------------------------- happy paths


@pytest.mark.parametrize(
    ("kind", "name", "counts", "scale"),
    [
        ("latest", "ml-latest-small", (7, 3, 8), (0.5, 5.0, 0.5)),
        ("ml100k", "ml-100k", (6, 3, 4), (1.0, 5.0, 1.0)),
        ("ml1m", "ml-1m", (3, 2, 3), (3.0, 5.0, 1.0)),
        ("recbole", "ml-100k", (4, 3, 3), (1.0, 3.0, 1.0)),
    ],
)
def test_each_format_imports_movies_users_ratings_and_the_scale(
    fresh_db, tmp_path, kind, name, counts, scale
):
    result = import_dataset(fresh_db, dataset(tmp_path, kind))
    assert (result.dataset, (result.movies, result.users, result.ratings)) == (name, counts)
    assert (result.rating_min, result.rating_max, result.rating_step) == scale
    assert fresh_db.get_meta("dataset") == name
    assert fresh_db.get_meta("rating_step") == f"{scale[2]:g}"


@pytest.mark.parametrize(
    ("kind", "movie_id", "title", "year", "genres"),
    [
        ("latest", 2, "Matrix, The", 1999, ("Action", "Sci-Fi", "Thriller")),
        ("latest", 3, "American President, The", 1995, ("Comedy", "Drama", "Romance")),
        ("latest", 4, "Cité des enfants perdus, La (City of Lost Children, The)", 1995,
         ("Adventure", "Drama", "Fantasy")),
        ("latest", 5, "Black Mirror", None, ()),
        ("latest", 6, "Misérables, Les", 1995, ("Drama", "War")),
        ("latest", 7, "Babylon 5", 1994, ("Sci-Fi",)),
        ("ml100k", 1, "Toy Story", 1995, ("Animation", "Children's", "Comedy")),
        ("ml100k", 2, "Cité des enfants perdus, La", 1995, ("Adventure", "Sci-Fi")),
        ("ml100k", 3, "Usual Suspects, The", 1995, ("Crime", "Thriller")),
        ("ml100k", 4, "unknown", None, ()),
        ("ml100k", 5, "Land Before Time III: The Time of the Great Giving (V)", 1995,
         ("Animation",)),
        ("ml100k", 6, "Seven (Se7en)", 1995, ("Crime", "Thriller")),
        ("ml1m", 2, "Cité des enfants perdus, La", 1995, ("Adventure", "Sci-Fi")),
        ("ml1m", 3, "Star Wars: Episode IV - A New Hope", 1977,
         ("Action", "Adventure", "Fantasy", "Sci-Fi")),
        ("recbole", 2, "Misérables, Les", 1995, ("Drama", "Musical")),
        ("recbole", 12, "Usual Suspects, The", 1995, ("Crime", "Film-Noir", "Sci-Fi")),
        ("recbole", 267, "unkonwn", None, ()),
    ],
)  # fmt: skip
def test_titles_years_and_genres_come_out_as_the_data_set_means_them(
    fresh_db, tmp_path, kind, movie_id, title, year, genres
):
    import_dataset(fresh_db, dataset(tmp_path, kind))
    movie = movies.get(fresh_db, movie_id)
    assert (movie.title, movie.year, movie.genres) == (title, year, genres)


@pytest.mark.parametrize(
    ("raw", "title", "year"),
    [
        ("Matrix, The (1999)", "Matrix, The", 1999),
        ("Seven (Se7en) (1995)", "Seven (Se7en)", 1995),
        ("Seven (Se7en)", "Seven (Se7en)", None),
        ("Black Mirror", "Black Mirror", None),
        ("  Heat (1995)  ", "Heat", 1995),
        ("1492: Conquest of Paradise (1992)", "1492: Conquest of Paradise", 1992),
        ("Babylon 5 (1994–1998)", "Babylon 5", 1994),
        ("(1999)", "(1999)", None),
    ],
)
def test_split_title(raw, title, year):
    assert split_title(raw) == (title, year)


@pytest.mark.parametrize(
    ("kind", "ref", "age", "gender", "occupation"),
    [
        ("ml100k", "ml:186", 39, "F", "executive"),
        ("recbole", "ml:196", 49, "M", "writer"),
        ("ml1m", "ml:1", 1, "F", "K-12 student"),
        ("ml1m", "ml:2", 56, "M", "self-employed"),
        ("latest", "ml:3", None, None, None),
    ],
)
def test_dataset_users_get_their_demographics_and_stay_apart_from_telegram(
    fresh_db, tmp_path, kind, ref, age, gender, occupation
):
    import_dataset(fresh_db, dataset(tmp_path, kind))
    user = users.resolve(fresh_db, ref)
    row = fresh_db.conn.execute(
        "SELECT kind, age, gender, occupation FROM users WHERE id = ?", (user.id,)
    ).fetchone()
    assert row == ("dataset", age, gender, occupation)
    assert users.count(fresh_db, "telegram") == 0


def test_tags_become_weighted_features_and_links_fill_imdb_and_tmdb(fresh_db, tmp_path):
    import_dataset(fresh_db, dataset(tmp_path, "latest"))
    feats = movies.features(fresh_db)
    assert sorted(feats[2]) == [("tag", "dark, moody", 1.0), ("tag", "funny", 2.0)]
    assert feats[4] == [("tag", "jean-pierre jeunet", 1.0)]
    matrix, mirror, president = (movies.get(fresh_db, i) for i in (2, 5, 3))
    assert (matrix.imdb_id, matrix.tmdb_id) == ("tt0133093", 603)
    assert (mirror.imdb_id, mirror.tmdb_id) == ("tt2085059", None)
    assert (president.imdb_id, president.tmdb_id) == (None, None)


def test_knowledge_graph_gives_film_relations_only(fresh_db, tmp_path):
    import_dataset(fresh_db, dataset(tmp_path, "recbole"))
    feats = movies.features(fresh_db)
    assert sorted(feats[1]) == [("actor", "m.0c1pj", 1.0), ("director", "m.0py9b", 1.0)]
    assert sorted(feats[12]) == [("director", "m.0py9b", 1.0), ("subject", "m.04xvh5", 1.0)]
    assert feature_counts(fresh_db) == {"director": 2, "actor": 1, "subject": 1}


def _zip_folder(folder: Path, target: Path, *, top: str | None) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{top}/{path.name}" if top else path.name)
    return target


@pytest.mark.parametrize("shape", ["folder", "parent folder", "zip with a folder", "flat zip"])
def test_a_folder_its_parent_or_a_zip_all_import_the_same(fresh_db, tmp_path, shape):
    folder = write_latest(tmp_path / "src" / "ml-latest-small")
    path = {
        "folder": lambda: folder,
        "parent folder": lambda: folder.parent,
        "zip with a folder": lambda: _zip_folder(folder, tmp_path / "x.zip", top=folder.name),
        "flat zip": lambda: _zip_folder(folder, tmp_path / "ml-latest-small.zip", top=None),
    }[shape]()
    result = import_dataset(fresh_db, path)
    assert (result.dataset, result.movies, result.ratings, result.features) == (
        "ml-latest-small", 7, 8, 3,
    )  # fmt: skip


def test_reimporting_the_same_data_set_changes_nothing(fresh_db, tmp_path):
    path = dataset(tmp_path, "recbole")
    first = import_dataset(fresh_db, path)
    before = snapshot(fresh_db)
    second = import_dataset(fresh_db, path)
    assert (second.movies, second.users, second.ratings, second.features) == (
        first.movies, first.users, first.ratings, first.features,
    )  # fmt: skip
    after = [line for line in snapshot(fresh_db) if "dataset_imported_at" not in line]
    assert after == [line for line in before if "dataset_imported_at" not in line]


def test_official_ml100k_after_the_recbole_copy_is_the_same_data_set(fresh_db, tmp_path):
    import_dataset(fresh_db, dataset(tmp_path, "recbole"))
    result = import_dataset(fresh_db, dataset(tmp_path, "ml100k"))
    assert result.dataset == "ml-100k"
    assert movies.get(fresh_db, 1).title == "Toy Story"


def test_a_different_data_set_is_refused_and_nothing_changes(fresh_db, tmp_path):
    import_dataset(fresh_db, dataset(tmp_path, "ml100k"))
    before = snapshot(fresh_db)
    with pytest.raises(DatasetMismatchError, match=r"already holds ml-100k.*--db ml-1m.sqlite"):
        import_dataset(fresh_db, dataset(tmp_path, "ml1m"))
    assert snapshot(fresh_db) == before


@pytest.mark.parametrize(
    "quirk",
    ["windows line ends", "blank lines at the end", "byte order mark", "no final newline"],
)
def test_harmless_file_quirks_import_the_same(fresh_db, tmp_path, quirk):
    folder = write_latest(tmp_path / "ml-latest-small")
    ratings_text = {
        "windows line ends": LATEST_RATINGS.replace("\n", "\r\n"),
        "blank lines at the end": LATEST_RATINGS + "\n\n  \n",
        "byte order mark": "\ufeff" + LATEST_RATINGS,
        "no final newline": LATEST_RATINGS.rstrip("\n"),
    }[quirk]
    (folder / "ratings.csv").write_text(ratings_text, encoding="utf-8", newline="")
    (folder / "movies.csv").write_text(
        ("\ufeff" if quirk == "byte order mark" else "") + LATEST_MOVIES, encoding="utf-8"
    )
    result = import_dataset(fresh_db, folder)
    assert (result.movies, result.users, result.ratings, result.rating_min) == (7, 3, 8, 0.5)
    assert movies.get(fresh_db, 2).title == "Matrix, The"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kind", "file", "text", "message"),
    [
        ("latest", "ratings.csv", "userId,movieId,rating,timestamp\n9,1,4.0,1\n9,2,x,2\n",
         "ratings.csv line 3: rating 'x' is not a number"),
        ("latest", "ratings.csv", "userId,movieId,rating,timestamp\n9,1,4.0,1\n\n,2,4,2\n",
         "ratings.csv line 4: user id is missing"),
        ("latest", "ratings.csv", "userId,movieId,rating,timestamp\n9,1,4.0,1\n9,2,4.0,2,7\n",
         "ratings.csv line 3: expected 4 fields, found 5"),
        ("latest", "ratings.csv", "userId,movieId,rating,timestamp\n9,1,4.0,1\n9,2,4.3,2\n",
         "ratings.csv line 3: rating 4.3 is not a star rating"),
        ("latest", "ratings.csv", "userId,movieId,rating,timestamp\n9,1,4.0,1\n9,999,4,2\n",
         "ratings.csv line 3: movie 999 is not in the data set's movie list"),
        ("latest", "ratings.csv", "userId,movieId,stars,timestamp\n9,1,4.0,1\n",
         "ratings.csv line 1: no 'rating' column"),
        ("latest", "ratings.csv", "userId,movieId,rating,timestamp\n9.5,1,4.0,1\n",
         "ratings.csv line 2: user id '9.5' is not a whole number"),
        ("latest", "movies.csv", LATEST_MOVIES + "abc,Heat (1995),Action\n",
         "movies.csv line 9: movieId 'abc' is not a whole number"),
        ("latest", "links.csv", LATEST_LINKS + "6,tt12,\n",
         "links.csv line 5: imdbId 'tt12' is not a number"),
        ("ml100k", "u.data", "9\t1\t4\t1\n9\t2\t4\tyesterday\n",
         "u.data line 2: timestamp 'yesterday' is not a number"),
        ("ml1m", "ratings.dat", "9::1::5::1\n9::2::five::2\n",
         "ratings.dat line 2: rating 'five' is not a number"),
        ("recbole", "ml-100k.inter", "user_id:token\titem_id:token\ttimestamp:float\n9\t1\t1\n",
         "ml-100k.inter line 1: no 'rating' column"),
        ("recbole", "ml-100k.item", RECBOLE["ml-100k.item"] + "13\tHeat\n",
         "ml-100k.item line 6: expected 4 fields, found 2"),
    ],
)  # fmt: skip
def test_a_bad_line_is_named_and_leaves_the_database_as_it_was(
    fresh_db, tmp_path, kind, file, text, message
):
    import_dataset(fresh_db, dataset(tmp_path / "good", kind))
    before = snapshot(fresh_db)
    bad = dataset(tmp_path / "bad", kind)
    (bad / file).write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError) as caught:
        import_dataset(fresh_db, bad)
    assert str(caught.value).startswith(message)
    assert snapshot(fresh_db) == before
    assert users.find(fresh_db, "dataset", 9) is None


def _ratings_indexes(db: Database) -> list[str]:
    return [r[0] for r in db.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ratings' "
        "AND sql IS NOT NULL"
    )]  # fmt: skip


def test_a_big_file_rebuilds_the_ratings_index_and_a_failure_keeps_it(
    fresh_db, tmp_path, monkeypatch
):
    monkeypatch.setattr(movielens, "BULK_BYTES", 0)  # treat every ratings file as big
    indexes = _ratings_indexes(fresh_db)
    assert indexes
    import_dataset(fresh_db, dataset(tmp_path / "good", "latest"))
    assert _ratings_indexes(fresh_db) == indexes
    before = snapshot(fresh_db)
    bad = dataset(tmp_path / "bad", "latest")
    (bad / "ratings.csv").write_text(LATEST_RATINGS + "9,1,x,1\n")
    with pytest.raises(DataFormatError, match="line 10"):
        import_dataset(fresh_db, bad)
    assert _ratings_indexes(fresh_db) == indexes
    assert snapshot(fresh_db) == before


def test_a_bad_tag_parsed_while_the_index_is_rebuilt_fails_the_whole_import(
    fresh_db, tmp_path, monkeypatch
):
    """A big import parses the tags on a thread of its own as SQLite builds the ratings'
    index: a bad line there still names itself and leaves nothing behind."""
    monkeypatch.setattr(movielens, "BULK_BYTES", 0)
    indexes = _ratings_indexes(fresh_db)
    bad = dataset(tmp_path / "bad", "latest")
    (bad / "tags.csv").write_text(LATEST_TAGS + "9,one,scary,5\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"tags\.csv line 7: movieId 'one' is not a whole"):
        import_dataset(fresh_db, bad)
    assert summary(fresh_db).ratings == 0 and summary(fresh_db).movies == 0
    assert _ratings_indexes(fresh_db) == indexes
    result = import_dataset(fresh_db, dataset(tmp_path / "good", "latest"))
    assert result.ratings > 0 and movielens.feature_counts(fresh_db)["tag"] > 0


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"ratings.csv": LATEST_RATINGS}, "movies.csv is missing"),
        ({"u.data": ML100K_DATA}, "u.item is missing"),
        ({"ratings.dat": ML1M_RATINGS}, "movies.dat is missing"),
        ({"ml-100k.inter": RECBOLE["ml-100k.inter"]}, "ml-100k.item is missing"),
        ({"README.txt": "hello"}, "no MovieLens data set found"),
    ],
)
def test_a_missing_file_is_named(fresh_db, tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(DataFormatError, match=message):
        import_dataset(fresh_db, tmp_path)
    assert summary(fresh_db).movies == 0


def test_a_path_that_does_not_exist_is_named(fresh_db, tmp_path):
    with pytest.raises(DataFormatError, match=r"nowhere: no such file or folder"):
        import_dataset(fresh_db, tmp_path / "nowhere")


def test_line_numbers_stay_right_across_blocks_and_blank_lines():
    rows = "".join(f"{i},{i},3,{i}\n" for i in range(1, 40))
    text = "userId,movieId,rating,timestamp\n" + rows + "\n\n   \n41,41,oops,41\n"
    spec = TableSpec("ratings.csv", ",", {"user": ("userId",), "movie": ("movieId",),
                                          "rating": ("rating",), "ts": ("timestamp",)},
                     header=True)  # fmt: skip
    seen = 0
    with pytest.raises(DataFormatError, match=r"ratings.csv line 44: rating 'oops'"):
        for chunk in read_chunks(io.BytesIO(text.encode()), spec, block_bytes=64):
            chunk.floats("rating", "rating")
            seen += len(chunk.frame)
    assert seen == 39


# ---------------------------------------------------------------- the command line


def test_cli_import_and_info_print_what_the_database_holds(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    db = str(tmp_path / "m.sqlite")
    env = ["--env-file", str(tmp_path / "none.env"), "--db", db]
    assert main([*env, "data", "import", str(dataset(tmp_path, "latest"))]) == 0
    out = capsys.readouterr().out
    assert "Imported ml-latest-small" in out and "7 movies, 3 users, 8 ratings" in out
    assert main([*env, "data", "info"]) == 0
    info = capsys.readouterr().out
    assert "ml-latest-small (MovieLens latest-small)" in info
    assert "0.5 to 5 in steps of 0.5" in info
    assert "8 from the data set, 0 on Telegram" in info


def test_cli_info_says_what_the_catalogue_is_and_how_to_get_a_current_one(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    env = ["--env-file", str(tmp_path / "none.env"), "--db", str(tmp_path / "m.sqlite")]
    assert main([*env, "data", "import", str(dataset(tmp_path, "ml100k"))]) == 0
    capsys.readouterr()
    assert main([*env, "data", "info"]) == 0
    info = capsys.readouterr().out
    with Database(tmp_path / "m.sqlite") as db:
        held = movies.catalogue(db)
    assert "ml-100k (MovieLens 100K)" in info
    assert f"movies        {held.movies:,}, from {held.first_year} to {held.last_year}" in info
    assert f"This catalogue ends in {held.last_year}." in info
    assert "moviebot data fetch ml-latest-small --db" in info and "moviebot data import" in info


def test_cli_refuses_a_second_data_set_with_one_clean_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    env = ["--env-file", str(tmp_path / "none.env"), "--db", str(tmp_path / "m.sqlite")]
    assert main([*env, "data", "import", str(dataset(tmp_path, "ml100k"))]) == 0
    capsys.readouterr()
    assert main([*env, "data", "import", str(dataset(tmp_path, "latest"))]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("moviebot: this database already holds ml-100k")
    assert "--db" in err and "Traceback" not in err


def test_cli_info_on_an_empty_database_says_how_to_start(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    env = ["--env-file", str(tmp_path / "none.env"), "--db", str(tmp_path / "m.sqlite")]
    assert main([*env, "data", "info"]) == 0
    assert "none yet (run `moviebot data fetch`)" in capsys.readouterr().out


def test_cli_fetch_without_a_name_keeps_the_databases_own_data_set(tmp_path, capsys, monkeypatch):
    """`make run` fetches with no name: a database set up with another data set is kept as
    it is, without a download."""
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    env = ["--env-file", str(tmp_path / "none.env"), "--db", str(tmp_path / "m.sqlite")]
    assert main([*env, "data", "import", str(dataset(tmp_path, "latest"))]) == 0
    capsys.readouterr()
    assert main([*env, "data", "fetch"]) == 0
    out = capsys.readouterr().out
    assert "already holds ml-latest-small: nothing to fetch" in out
    assert "Catalogue: ml-latest-small (MovieLens latest-small)" in out  # what `make run` says


def test_cli_import_says_what_the_catalogue_is_and_how_to_get_a_current_one(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    env = ["--env-file", str(tmp_path / "none.env"), "--db", str(tmp_path / "m.sqlite")]
    assert main([*env, "data", "import", str(dataset(tmp_path, "ml100k"))]) == 0
    out = capsys.readouterr().out
    with Database(tmp_path / "m.sqlite") as db:
        held = movies.catalogue(db)
    years = f"from {held.first_year} to {held.last_year}"
    assert f"Catalogue: ml-100k (MovieLens 100K), {held.movies:,} movies {years}." in out
    assert f"This catalogue ends in {held.last_year}." in out


# ---------------------------------------------------------------- import faults, through the CLI


def _cli(tmp_path: Path, db: Path, *args: str) -> int:
    return main(["--env-file", str(tmp_path / "none.env"), "--db", str(db), *args])


def _left_behind(db: Path) -> list[str]:
    return [p.name for p in db.parent.glob(f"{db.name}*")]


@pytest.mark.parametrize("fault", ["bad line", "truncated zip", "no such path"])
def test_a_failed_import_into_a_new_database_leaves_no_file_behind(
    tmp_path, capsys, monkeypatch, fault
):
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    folder = dataset(tmp_path, "latest")
    target: Path = folder
    if fault == "bad line":
        (folder / "ratings.csv").write_text(LATEST_RATINGS + "9,2,x,2\n")
    elif fault == "truncated zip":
        whole = _zip_folder(folder, tmp_path / "ml-latest-small.zip", top="ml-latest-small")
        whole.write_bytes(whole.read_bytes()[:-100])
        target = whole
    else:
        target = tmp_path / "nowhere"
    db = tmp_path / "new" / "deeper" / "m.sqlite"
    assert _cli(tmp_path, db, "data", "import", str(target)) == 1
    assert "moviebot:" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # the file, its -wal and -shm, and its folders


def test_a_failed_import_into_an_existing_database_keeps_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    db = tmp_path / "m.sqlite"
    assert _cli(tmp_path, db, "data", "import", str(dataset(tmp_path, "latest"))) == 0
    empty = tmp_path / "empty.sqlite"
    Database(empty).close()  # created by an earlier command, nothing in it yet
    folder = dataset(tmp_path / "other", "latest")
    (folder / "ratings.csv").write_text(LATEST_RATINGS + "9,2,x,2\n")
    for existing in (db, empty):
        assert _cli(tmp_path, existing, "data", "import", str(folder)) == 1
        assert existing.exists()
    with Database(db) as kept:
        assert summary(kept).ratings == 8


@pytest.mark.parametrize(
    ("kind", "file"),
    [
        ("latest", "ratings.csv"),
        ("latest", "movies.csv"),
        ("latest", "links.csv"),
        ("latest", "tags.csv"),
        ("ml100k", "u.data"),
        ("ml100k", "u.item"),  # Latin-1 after the mark
        ("ml100k", "u.user"),
        ("ml1m", "ratings.dat"),
        ("ml1m", "movies.dat"),
        ("ml1m", "users.dat"),
        ("recbole", "ml-100k.inter"),
        ("recbole", "ml-100k.item"),
    ],
)
@pytest.mark.parametrize("shape", ["folder", "zip"])
def test_a_file_saved_with_a_byte_order_mark_imports_the_same(
    tmp_path, capsys, monkeypatch, kind, file, shape
):
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    plain = tmp_path / "plain.sqlite"
    assert _cli(tmp_path, plain, "data", "import", str(dataset(tmp_path / "a", kind))) == 0
    folder = dataset(tmp_path / "b", kind)
    (folder / file).write_bytes(b"\xef\xbb\xbf" + (folder / file).read_bytes())
    target = folder
    if shape == "zip":
        target = _zip_folder(folder, tmp_path / f"{folder.name}.zip", top=folder.name)
    marked = tmp_path / "marked.sqlite"
    assert _cli(tmp_path, marked, "data", "import", str(target)) == 0, capsys.readouterr().err
    with Database(plain) as a, Database(marked) as b:
        assert snapshot(a)[1:] != [] and _without_meta(a) == _without_meta(b)


def _without_meta(db: Database) -> list[str]:
    """The database's rows, without meta (import times) and users' created_at."""
    return [
        line
        for line in snapshot(db)
        if not line.startswith(('INSERT INTO "meta"', 'INSERT INTO "users"'))
    ] + [repr(r) for r in db.conn.execute("SELECT kind, external_id, age, gender FROM users")]


def test_a_truncated_or_corrupted_zip_is_called_damaged(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    folder = dataset(tmp_path, "latest")
    whole = _zip_folder(folder, tmp_path / "whole.zip", top="ml-latest-small").read_bytes()
    truncated = tmp_path / "ml-latest-small.zip"
    truncated.write_bytes(whole[: len(whole) // 2])
    at = whole.index(b"964982703")  # inside ratings.csv, stored uncompressed: the CRC fails
    corrupted = tmp_path / "corrupted.zip"
    corrupted.write_bytes(whole[:at] + b"8" + whole[at + 1 :])
    for archive in (truncated, corrupted):
        assert _cli(tmp_path, tmp_path / "m.sqlite", "data", "import", str(archive)) == 1
        err = capsys.readouterr().err
        assert "the zip is damaged (truncated?)" in err and "neither a folder" not in err
        assert "Traceback" not in err
