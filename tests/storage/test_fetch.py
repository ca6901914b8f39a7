"""Fetching data sets: a local HTTP server on 127.0.0.1 plays GroupLens and the package index."""

from __future__ import annotations

import hashlib
import io
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.cli import main
from storage.importers.fetch import (
    RECBOLE_WHEEL,
    ChecksumError,
    FetchError,
    fetch,
    fetch_grouplens,
    fetch_recbole,
)
from storage.importers.movielens import DatasetMismatchError, summary

# ---------------------------------------------------------------- a small HTTP server


@dataclass
class Site:
    """What the local server serves, what it saw, and which downloads it cuts off halfway."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    drop_once: set[str] = field(default_factory=set)


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("#", 1)[0]
            site.requests.append((path, self.headers.get("Range")))
            body = site.files.get(path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if wanted:
                start = int(wanted.group(1))
                if start >= len(body):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            kind = "text/html" if path.endswith("/") else "application/octet-stream"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            payload = body[start:]
            if path in site.drop_once:
                site.drop_once.discard(path)
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            """Quiet: the test reads `site.requests` instead."""

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# ---------------------------------------------------------------- data set archives

MOVIES = 'movieId,title,genres\n1,Toy Story (1995),Animation\n2,"Matrix, The (1999)",Sci-Fi\n'
RATINGS = "userId,movieId,rating,timestamp\n1,1,4.5,1\n1,2,3.0,2\n2,2,5.0,3\n"


def grouplens_zip(name: str = "ml-latest-small") -> bytes:
    """A GroupLens-shaped zip: one top-level folder, plus filler so the download takes reads."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{name}/movies.csv", MOVIES)
        archive.writestr(f"{name}/ratings.csv", RATINGS)
        archive.writestr(f"{name}/README.txt", bytes(range(256)) * 4096)
    return out.getvalue()


def serve_grouplens(site: Site, name: str = "ml-latest-small", md5: str | None = None) -> bytes:
    body = grouplens_zip(name)
    digest = md5 or hashlib.md5(body).hexdigest()
    site.files[f"/movielens/{name}.zip"] = body
    site.files[f"/movielens/{name}.zip.md5"] = f"MD5 ({name}.zip) = {digest}\n".encode()
    return body


RECBOLE_FILES = {
    "ml-100k.inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t242\t1\t878887116\n",
    "ml-100k.item": "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    "242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir Mystery Thriller\n",
    "ml-100k.user": "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    "196\t49\tM\twriter\t55105\n186\t39\tF\texecutive\t00000\n22\t25\tM\twriter\t40206\n",
    "ml-100k.link": "item_id:token\tentity_id:token\n302\tm.0g5q34q\n",
    "ml-100k.kg": "head_id:token\trelation_id:token\ttail_id:token\n"
    "m.0g5q34q\tfilm.film.directed_by\tm.02kxbx3\n",
}


def recbole_wheel() -> bytes:
    """A tiny but valid recbole 1.2.1 wheel carrying the ml-100k example files."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as wheel:
        wheel.writestr("recbole/__init__.py", "")
        for name, text in RECBOLE_FILES.items():
            wheel.writestr(f"recbole/dataset_example/ml-100k/{name}", text)
        info = "recbole-1.2.1.dist-info"
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: recbole\nVersion: 1.2.1\n")
        wheel.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n",
        )  # fmt: skip
        wheel.writestr(f"{info}/RECORD", "")
    return out.getvalue()


def serve_index(site: Site) -> str:
    """A PEP 503 simple index with one project, recbole; returns the wheel's sha256."""
    body = recbole_wheel()
    digest = hashlib.sha256(body).hexdigest()
    site.files[f"/files/{RECBOLE_WHEEL}"] = body
    page = (
        "<!DOCTYPE html><html><body>"
        f'<a href="/files/{RECBOLE_WHEEL}#sha256={digest}">{RECBOLE_WHEEL}</a>'
        "</body></html>"
    )
    site.files["/simple/recbole/"] = page.encode()
    return digest


@pytest.fixture
def quiet_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep pip's HTTP cache inside the test's folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# ---------------------------------------------------------------- GroupLens zips


def test_grouplens_zip_is_verified_imported_and_then_taken_from_the_cache(fresh_db, tmp_path, site):
    serve_grouplens(site)
    first = fetch_grouplens(fresh_db, tmp_path, "ml-latest-small", base_url=f"{site.url}/movielens")
    assert (first.downloaded, first.imported) == (True, True)
    assert (first.summary.movies, first.summary.ratings, first.summary.rating_step) == (2, 3, 0.5)
    assert (tmp_path / "downloads" / "ml-latest-small.zip").is_file()

    seen = len(site.requests)
    again = fetch_grouplens(fresh_db, tmp_path, "ml-latest-small", base_url=f"{site.url}/movielens")
    assert (again.downloaded, again.imported) == (False, False)
    assert again.summary.ratings == 3
    assert len(site.requests) == seen  # nothing asked of the server


def test_a_dropped_connection_resumes_with_a_range_request(fresh_db, tmp_path, site):
    body = serve_grouplens(site)
    site.drop_once.add("/movielens/ml-latest-small.zip")
    result = fetch_grouplens(
        fresh_db, tmp_path, "ml-latest-small", base_url=f"{site.url}/movielens/", retry_wait=0
    )
    assert result.imported and result.summary.ratings == 3
    zip_requests = [r for p, r in site.requests if p.endswith(".zip")]
    assert zip_requests == [None, f"bytes={len(body) // 2}-"]


def test_a_download_cut_short_is_resumed_by_the_next_run(fresh_db, tmp_path, site):
    body = serve_grouplens(site)
    site.drop_once.add("/movielens/ml-latest-small.zip")
    base = f"{site.url}/movielens"
    with pytest.raises(FetchError, match="after 1 attempts"):
        fetch_grouplens(fresh_db, tmp_path, "ml-latest-small", base_url=base, attempts=1)
    part = tmp_path / "downloads" / "ml-latest-small.zip.part"
    assert part.stat().st_size == len(body) // 2
    assert summary(fresh_db).movies == 0

    result = fetch_grouplens(fresh_db, tmp_path, "ml-latest-small", base_url=base, attempts=1)
    assert result.imported and not part.exists()
    assert site.requests[-1] == ("/movielens/ml-latest-small.zip", f"bytes={len(body) // 2}-")


def test_a_checksum_mismatch_is_refused_and_nothing_is_imported(fresh_db, tmp_path, site):
    serve_grouplens(site, md5="0" * 32)
    with pytest.raises(ChecksumError, match=r"MD5 is [0-9a-f]{32}, but .* says 0{32}"):
        fetch_grouplens(fresh_db, tmp_path, "ml-latest-small", base_url=f"{site.url}/movielens")
    assert summary(fresh_db).movies == 0
    assert fresh_db.get_meta("dataset") is None
    assert list((tmp_path / "downloads").iterdir()) == []


def test_fetching_a_second_data_set_is_refused_before_any_download(fresh_db, tmp_path, site):
    serve_grouplens(site, "ml-latest-small")
    serve_grouplens(site, "ml-1m")
    fetch(fresh_db, tmp_path, "ml-latest-small", base_url=f"{site.url}/movielens")
    seen = len(site.requests)
    with pytest.raises(DatasetMismatchError, match=r"holds ml-latest-small.*--db ml-1m.sqlite"):
        fetch(fresh_db, tmp_path, "ml-1m", base_url=f"{site.url}/movielens")
    assert len(site.requests) == seen
    assert summary(fresh_db).dataset == "ml-latest-small"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, r"ml-1m.zip.md5: HTTP 404"),
        ({"/movielens/ml-1m.zip.md5": b"checksum coming soon\n"}, r"does not contain an MD5"),
        ({"/movielens/ml-1m.zip.md5": b"0123456789abcdef0123456789abcdef\n"},
         r"ml-1m.zip: HTTP 404"),
    ],
)  # fmt: skip
def test_missing_files_on_the_server_give_clear_errors(fresh_db, tmp_path, site, files, message):
    site.files.update(files)
    with pytest.raises(FetchError, match=message):
        fetch_grouplens(fresh_db, tmp_path, "ml-1m", base_url=f"{site.url}/movielens")
    assert summary(fresh_db).movies == 0


# ---------------------------------------------------------------- the default: the recbole wheel


def test_default_fetch_takes_the_wheel_from_the_index_extracts_and_imports(
    fresh_db, tmp_path, site, quiet_pip
):
    digest = serve_index(site)
    result = fetch_recbole(fresh_db, tmp_path, index_url=f"{site.url}/simple/", sha256=digest)
    assert (result.downloaded, result.imported) == (True, True)
    assert (result.summary.movies, result.summary.users, result.summary.ratings) == (2, 3, 3)
    assert result.summary.features == 1
    assert sorted(p.name for p in (tmp_path / "ml-100k").glob("ml-100k.*")) == sorted(RECBOLE_FILES)
    assert any(path.endswith(RECBOLE_WHEEL) for path, _ in site.requests)

    seen = len(site.requests)
    again = fetch_recbole(fresh_db, tmp_path, index_url=f"{site.url}/simple/", sha256=digest)
    assert (again.downloaded, again.imported) == (False, False)
    assert len(site.requests) == seen


def test_a_wheel_with_the_wrong_sha256_is_refused(fresh_db, tmp_path, site, quiet_pip):
    serve_index(site)
    with pytest.raises(ChecksumError, match=r"sha256 is [0-9a-f]{64}, expected f{64}"):
        fetch_recbole(fresh_db, tmp_path, index_url=f"{site.url}/simple/", sha256="f" * 64)
    assert summary(fresh_db).movies == 0
    assert list((tmp_path / "downloads").iterdir()) == []
    assert not (tmp_path / "ml-100k").exists()


def test_an_index_without_the_wheel_gives_a_clear_error(fresh_db, tmp_path, site, quiet_pip):
    with pytest.raises(FetchError, match=r"pip could not download recbole==1.2.1"):
        fetch_recbole(fresh_db, tmp_path, index_url=f"{site.url}/simple/")
    assert summary(fresh_db).movies == 0


# ---------------------------------------------------------------- the command line


def test_cli_fetch_twice_imports_once(tmp_path, site, capsys, monkeypatch):
    serve_grouplens(site, "ml-1m")
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    args = ["--env-file", str(tmp_path / "none.env"), "--db", str(tmp_path / "m.sqlite"),
            "data", "fetch", "ml-1m", "--from", f"{site.url}/movielens"]  # fmt: skip
    assert main(args) == 0
    assert "Imported ml-1m" in capsys.readouterr().out
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("ml-1m is already fetched") and "3 ratings" in out


def test_cli_fetch_of_an_unknown_name_lists_the_choices(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--env-file", str(tmp_path / "none.env"), "data", "fetch", "ml-5k"])
    assert "ml-latest-small" in capsys.readouterr().err
