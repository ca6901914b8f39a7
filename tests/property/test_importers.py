"""The MovieLens importer under arbitrary CSV bytes: a clean import or one clean error; a refused
import changes nothing already stored, and `moviebot data import` into a new path leaves no
database file behind."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.cli import main
from storage import movies
from storage.db import Database, StorageError
from storage.importers.movielens import import_dataset
from tests.conftest import TINY_MOVIES
from tests.property.strategies import hostile_text

HEADERS = {
    "movies.csv": "movieId,title,genres",
    "ratings.csv": "userId,movieId,rating,timestamp",
    "tags.csv": "userId,movieId,tag,timestamp",
    "links.csv": "movieId,imdbId,tmdbId",
}
cell = st.one_of(
    st.integers(-5, 20).map(str),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(['"', '""', "", " ", "Toy Story (1995)", "Comedy|Drama", "\r", "\\N"]),
    hostile_text,
)
row = st.lists(cell, max_size=6).map(",".join)


def quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


# Rows that parse, with hostile titles, tags and numbers at the edges of what is allowed.
GOOD_ROWS = {
    "movies.csv": st.builds(
        "{},{},{}".format,
        st.integers(1, 8),
        st.one_of(hostile_text, st.just("Heat (1995)")).map(quoted),
        st.sampled_from(["Comedy", "Drama|Action", "(no genres listed)", ""]),
    ),
    "ratings.csv": st.builds(
        "{},{},{},{}".format,
        st.integers(1, 4),
        st.integers(1, 8),
        st.sampled_from(["0.5", "1", "3.5", "5", "5.0", "0", "11", "-1", "nan", "4,5", "1e400"]),
        st.integers(0, 2**31),
    ),
    "tags.csv": st.builds(
        "{},{},{},{}".format,
        st.integers(1, 4),
        st.integers(1, 8),
        hostile_text.map(quoted),
        st.integers(0, 2**31),
    ),
    "links.csv": st.builds(
        "{},{},{}".format, st.integers(1, 8), st.integers(0, 10**7), st.sampled_from(["", "5"])
    ),
}


# Lines that always import: two movies, rated.
FIRST = {
    "movies.csv": ['1,"Heat (1995)",Action', "2,Toy Story (1995),Comedy"],
    "ratings.csv": ["1,1,4.0,964982703", "2,2,5,964982704"],
    "tags.csv": [],
    "links.csv": [],
}


def table(name: str) -> st.SearchStrategy[bytes]:
    """Any bytes; or the right header over hostile rows, in some encoding, maybe with a BOM."""
    structured = st.builds(
        lambda bom, rows, encoding: (
            bom + "\n".join([HEADERS[name], *rows]).encode(encoding, errors="replace")
        ),
        st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe"]),
        st.lists(st.one_of(row, GOOD_ROWS[name], GOOD_ROWS[name]), max_size=15),
        st.sampled_from(["utf-8", "latin-1", "utf-16"]),
    )
    return st.one_of(st.binary(max_size=2000), structured, parsing(name))


def parsing(name: str) -> st.SearchStrategy[bytes]:
    """The header and rows that parse (hostile titles and tags among them), maybe a BOM."""
    return st.builds(
        lambda bom, rows: bom + "\n".join([HEADERS[name], *FIRST[name], *rows]).encode(),
        st.sampled_from([b"", b"\xef\xbb\xbf"]),
        st.lists(GOOD_ROWS[name], max_size=10),
    )


def data_set(files: dict[str, st.SearchStrategy[bytes]]) -> st.SearchStrategy[dict[str, bytes]]:
    required = {k: v for k, v in files.items() if k in ("movies.csv", "ratings.csv")}
    optional = {k: v for k, v in files.items() if k not in required}
    return st.fixed_dictionaries(required, optional=optional)


data_sets = st.one_of(
    data_set({name: table(name) for name in HEADERS}),  # anything goes, in any file
    data_set({name: parsing(name) for name in HEADERS}),  # hostile values that import
)
slow = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def everything(db: Database) -> dict[str, list]:
    tables = [r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {t: sorted(map(repr, db.conn.execute(f"SELECT * FROM {t}"))) for t in tables}


@given(files=data_sets)
@slow
def test_a_refused_import_changes_nothing_already_stored(tmp_path_factory, files):
    folder = write(tmp_path_factory.mktemp("import") / "ml-latest-small", files)
    with Database(":memory:") as db:
        movies.upsert_many(db, TINY_MOVIES)
        db.set_meta("note", "kept")
        before = everything(db)
        try:
            result = import_dataset(db, folder)
        except StorageError as exc:
            event(f"refused: {type(exc).__name__}")
            assert str(exc).strip() and "\n" not in str(exc).strip()
            assert everything(db) == before
            return
        event("imported")
        assert result.ratings > 0


@given(files=data_sets)
@slow
def test_moviebot_data_import_is_one_line_and_leaves_no_new_database(tmp_path_factory, files):
    place = tmp_path_factory.mktemp("cli")
    folder = write(place / "ml-latest-small", files)
    db_path = place / "new" / "bot.sqlite"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        argv = ["--env-file", str(place / "no.env"), "--db", str(db_path), "data", "import"]
        code = main([*argv, str(folder)])
    if code == 0:
        assert db_path.is_file()
        return
    lines = err.getvalue().strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("moviebot: "), err.getvalue()
    assert not (place / "new").exists(), "a failed import left files behind"
