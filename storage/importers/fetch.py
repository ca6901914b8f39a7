"""Download a MovieLens data set, verify it, cache it, and import it.

Two routes:

- The default, MovieLens 100K, needs nothing but the Python package index: the `recbole`
  1.2.1 wheel ships `recbole/dataset_example/ml-100k/`. pip downloads just that wheel (no
  dependencies, nothing installed), we check its sha256, and extract the five data files.
  pip is used, not a URL of our own, so the machine's index, mirror and proxy settings apply.
- The others come as zips from GroupLens, each with a published `NAME.zip.md5`. They are
  downloaded with urllib into `NAME.zip.part`, resumed with an HTTP Range request when the
  connection drops, checked against the MD5, and imported straight from the zip.

Everything lands in `<data_dir>/downloads/`; a second run finds it there and, when the
database already holds that very archive, does nothing.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from storage.db import Database, StorageError
from storage.importers.movielens import (
    ImportResult,
    check_same_dataset,
    import_dataset,
    summary,
)

log = logging.getLogger(__name__)

DEFAULT_DATASET = "ml-100k"
GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/"
# Names GroupLens publishes as NAME.zip (with NAME.zip.md5).
GROUPLENS_DATASETS = (
    "ml-latest-small", "ml-latest", "ml-32m", "ml-25m", "ml-20m", "ml-10m", "ml-1m", "ml-100k",
)  # fmt: skip

RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
RECBOLE_DIR = "recbole/dataset_example/ml-100k/"
RECBOLE_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user", "ml-100k.kg", "ml-100k.link")
RECBOLE_REQUIRED = ("ml-100k.inter", "ml-100k.item")

PIP_TIMEOUT = 900.0  # seconds for the whole `pip download` (it has its own socket timeouts)
CHUNK = 1 << 20
_MD5 = re.compile(r"\b([0-9a-fA-F]{32})\b")


class FetchError(StorageError):
    """A download failed; the message says what to try."""


class ChecksumError(FetchError):
    """A downloaded file is not the one published: refused and deleted."""


@dataclass(frozen=True)
class FetchResult:
    """What a fetch did: where the archive is, whether it was downloaded and imported now."""

    dataset: str
    archive: Path
    checksum: str
    downloaded: bool  # False: it was in the cache
    imported: bool  # False: the database already held exactly this archive
    summary: ImportResult


def fetch(
    db: Database,
    data_dir: str | Path,
    name: str | None = None,
    *,
    base_url: str | None = None,
    index_url: str | None = None,
    force: bool = False,
    progress: bool = False,
) -> FetchResult:
    """Fetch and import `name` (default MovieLens 100K from the package index).

    With `base_url`, or for any other name, the zip comes from GroupLens (or that mirror).
    """
    name = (name or DEFAULT_DATASET).strip().lower()
    if name not in GROUPLENS_DATASETS:
        raise FetchError(
            f"unknown data set {name!r}; choose one of {', '.join(GROUPLENS_DATASETS)}"
        )
    check_same_dataset(db, name)  # before a download that could take minutes
    if name == DEFAULT_DATASET and base_url is None:
        return fetch_recbole(db, data_dir, index_url=index_url, force=force, progress=progress)
    return fetch_grouplens(
        db, data_dir, name, base_url=base_url or GROUPLENS_URL, force=force, progress=progress
    )


def _already_imported(db: Database, dataset: str, checksum: str) -> bool:
    return (
        db.get_meta("dataset") == dataset
        and db.get_meta("dataset_checksum") == checksum
        and summary(db).ratings > 0
    )


def _finish(
    db: Database, dataset: str, archive: Path, data: Path, checksum: str,
    downloaded: bool, force: bool, progress: bool,
) -> FetchResult:  # fmt: skip
    """Import `data` unless the database already holds this very archive."""
    if not force and _already_imported(db, dataset, checksum):
        log.info("%s is already imported into %s", dataset, db.path)
        return FetchResult(dataset, archive, checksum, downloaded, False, summary(db))
    result = import_dataset(db, data, checksum=checksum, progress=progress, expect=dataset)
    return FetchResult(dataset, archive, checksum, downloaded, True, result)


# ---------------------------------------------------------------- the recbole wheel


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def md5_of(path: Path, progress: bool = False) -> str:
    digest = hashlib.md5()
    with path.open("rb") as fh, tqdm(
        total=path.stat().st_size, desc=f"checking {path.name}", unit="B", unit_scale=True,
        file=sys.stderr, disable=not progress, leave=False,
    ) as bar:  # fmt: skip
        while block := fh.read(CHUNK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def fetch_recbole(
    db: Database,
    data_dir: str | Path,
    *,
    index_url: str | None = None,
    sha256: str = RECBOLE_SHA256,
    force: bool = False,
    progress: bool = False,
    pip_timeout: float = PIP_TIMEOUT,
) -> FetchResult:
    """MovieLens 100K from the recbole wheel: download (cached), verify, extract, import.

    `index_url` None uses the machine's pip configuration; given, pip uses only that index and
    ignores pip configuration files and PIP_* variables (a mirror, or a test's local index).
    """
    cache = Path(data_dir) / "downloads"
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / RECBOLE_WHEEL
    downloaded = False
    if force or not wheel.is_file() or sha256_of(wheel) != sha256:
        _pip_download(cache, index_url, sha256, progress, pip_timeout)
        downloaded = True
    else:
        log.info("using the cached %s", wheel)
    target = Path(data_dir) / DEFAULT_DATASET
    _extract_recbole(wheel, target, sha256)
    return _finish(db, DEFAULT_DATASET, wheel, target, sha256, downloaded, force, progress)


def _pip_download(
    cache: Path, index_url: str | None, sha256: str, progress: bool, timeout: float
) -> None:
    """`pip download` the wheel into a scratch folder, check it, then move it into the cache."""
    scratch = Path(tempfile.mkdtemp(prefix=".pip-", dir=cache))
    try:
        command = [
            sys.executable, "-m", "pip", "download", RECBOLE_REQUIREMENT, "--no-deps",
            "--only-binary=:all:", "--disable-pip-version-check", "--no-input",
            "-d", str(scratch),
        ]  # fmt: skip
        env = dict(os.environ)
        if index_url:
            command += ["--isolated", "--index-url", index_url]
            env["PIP_CONFIG_FILE"] = os.devnull
        if not progress:
            command.append("--quiet")
        log.info(
            "downloading %s (it carries MovieLens 100K) from %s",
            RECBOLE_WHEEL, index_url or "the package index pip is configured with",
        )  # fmt: skip
        _run_pip(command, env, progress, timeout)
        got = scratch / RECBOLE_WHEEL
        if not got.is_file():
            found = ", ".join(p.name for p in scratch.iterdir()) or "nothing"
            raise FetchError(f"pip download gave {found}, not {RECBOLE_WHEEL}")
        actual = sha256_of(got)
        if actual != sha256:
            raise ChecksumError(
                f"{RECBOLE_WHEEL}: sha256 is {actual}, expected {sha256}; refusing to use it "
                "(the index served a different file)"
            )
        got.replace(cache / RECBOLE_WHEEL)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run_pip(command: list[str], env: dict[str, str], progress: bool, timeout: float) -> None:
    """Run pip; with progress its output goes to our stderr, otherwise it is kept for errors."""
    try:
        if progress:
            returncode = subprocess.run(
                command, env=env, timeout=timeout, stdout=2, check=False
            ).returncode
            output = ""
        else:
            done = subprocess.run(
                command, env=env, timeout=timeout, capture_output=True, text=True, check=False
            )
            output = (done.stdout + done.stderr).strip()
            returncode = done.returncode
    except subprocess.TimeoutExpired:
        raise FetchError(f"pip download did not finish within {timeout:.0f} s") from None
    if returncode != 0:
        tail = "\n".join(output.splitlines()[-5:])
        detail = f": {tail}" if tail else " (its message is above)"
        raise FetchError(
            f"pip could not download {RECBOLE_REQUIREMENT} (exit {returncode}){detail}"
        )


def _extract_recbole(wheel: Path, target: Path, sha256: str) -> None:
    """Write the wheel's ml-100k files into `target`, unless they are there from this wheel."""
    marker = target / ".source"
    stamp = f"{RECBOLE_WHEEL} {sha256}"
    if (
        marker.is_file()
        and marker.read_text().strip() == stamp
        and all((target / f).is_file() for f in RECBOLE_REQUIRED)
    ):
        return
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        missing = [f for f in RECBOLE_REQUIRED if RECBOLE_DIR + f not in names]
        if missing:
            raise FetchError(f"{wheel.name} has no {RECBOLE_DIR}{missing[0]}")
        for name in RECBOLE_FILES:
            if RECBOLE_DIR + name not in names:
                continue
            part = target / f"{name}.part"
            with archive.open(RECBOLE_DIR + name) as src, part.open("wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
            part.replace(target / name)
    marker.write_text(stamp + "\n")
    log.info("extracted MovieLens 100K into %s", target)


# ---------------------------------------------------------------- GroupLens zips


def fetch_grouplens(
    db: Database,
    data_dir: str | Path,
    name: str,
    *,
    base_url: str = GROUPLENS_URL,
    force: bool = False,
    progress: bool = False,
    attempts: int = 4,
    retry_wait: float = 2.0,
    timeout: float = 60.0,
) -> FetchResult:
    """NAME.zip from GroupLens (or a mirror at `base_url`), MD5-checked, resumable, cached."""
    cache = Path(data_dir) / "downloads"
    cache.mkdir(parents=True, exist_ok=True)
    url = base_url.rstrip("/") + f"/{name}.zip"
    archive = cache / f"{name}.zip"
    md5_file = cache / f"{name}.zip.md5"
    if force:
        for stale in (archive, md5_file, cache / f"{name}.zip.part"):
            stale.unlink(missing_ok=True)
    if archive.is_file() and md5_file.is_file():
        cached = _parse_md5(md5_file.read_text(), str(md5_file))
        if _already_imported(db, name, cached):
            log.info("%s is already fetched (%s) and imported", name, archive)
            return FetchResult(name, archive, cached, False, False, summary(db))
        if md5_of(archive, progress) == cached:
            log.info("using the cached %s", archive)
            return _finish(db, name, archive, archive, cached, False, force, progress)
    # Always take the checksum fresh before a download: ml-latest changes over time.
    md5_text = _get_small(url + ".md5", timeout)
    expected = _parse_md5(md5_text, url + ".md5")
    archive.unlink(missing_ok=True)
    download(url, archive, attempts=attempts, retry_wait=retry_wait, timeout=timeout,
             progress=progress)  # fmt: skip
    actual = md5_of(archive, progress)
    if actual != expected:
        archive.unlink()
        md5_file.unlink(missing_ok=True)
        raise ChecksumError(
            f"{name}.zip: MD5 is {actual}, but {url}.md5 says {expected}; the download was "
            "deleted and nothing was imported. Try again, or use --force."
        )
    md5_file.write_text(md5_text)
    return _finish(db, name, archive, archive, expected, True, force, progress)


def _parse_md5(text: str, where: str) -> str:
    """GroupLens writes `MD5 (ml-25m.zip) = 6b51…`; plain `6b51…  ml-25m.zip` works too."""
    match = _MD5.search(text)
    if not match:
        raise FetchError(f"{where} does not contain an MD5 checksum")
    return match.group(1).lower()


def _request(url: str, headers: dict[str, str] | None = None) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": "moviebot", **(headers or {})})


def _get_small(url: str, timeout: float) -> str:
    """A small text file (the .md5)."""
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout) as response:
            return response.read(1 << 16).decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"{url}: {reason}") from None


class _Interrupted(Exception):
    """The connection ended before the whole file arrived."""


def download(
    url: str,
    dest: Path,
    *,
    attempts: int = 4,
    retry_wait: float = 2.0,
    timeout: float = 60.0,
    progress: bool = False,
) -> Path:
    """Download `url` to `dest` through `dest.part`, resuming with Range after a drop.

    A `.part` left by an earlier, interrupted run is resumed too.
    """
    part = dest.with_name(dest.name + ".part")
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            _download_once(url, part, timeout, progress)
            part.replace(dest)
            return dest
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            last = exc
        except (_Interrupted, urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            last = exc
        if attempt < attempts:
            have = part.stat().st_size if part.exists() else 0
            log.warning(
                "download of %s stopped at %d bytes (%s); resuming (attempt %d of %d)",
                url, have, last, attempt + 1, attempts,
            )  # fmt: skip
            time.sleep(retry_wait * attempt)
    raise FetchError(f"could not download {url} after {attempts} attempts: {last}")


def _download_once(url: str, part: Path, timeout: float, progress: bool) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = urllib.request.urlopen(_request(url, headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return  # the .part is already whole; the checksum will tell
        raise
    with response:
        resumed = have > 0 and response.status == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        total = have + expected if expected is not None else None
        received = 0
        with part.open("ab" if resumed else "wb") as out, tqdm(
            total=total, initial=have, desc=part.name.removesuffix(".part"), unit="B",
            unit_scale=True, file=sys.stderr, disable=not progress, leave=False,
        ) as bar:  # fmt: skip
            while block := response.read(CHUNK):
                out.write(block)
                received += len(block)
                bar.update(len(block))
    if expected is not None and received < expected:
        raise _Interrupted(f"got {received} of {expected} bytes")
