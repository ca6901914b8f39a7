"""Model artifacts: one `.npz` file of arrays with the metadata embedded as JSON, no pickle.

The file is written to a temporary name in the same directory and `os.replace`d into place, so a
reader sees either the old file or the whole new one. It carries a format version and the
fingerprint of the item vocabulary it was trained with; loading checks both, and any file that
is missing, truncated, corrupt or from another catalogue fails with `ArtifactError`, so the
caller can keep serving what it has.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from recommender.vocab import Vocab

FORMAT = "moviebot-model"
# 2: the hybrid gained a second ALS component ("watched/item_factors").
# 3: the hybrid gained a trend component ("trend/…": daily liked ratings per movie).
# 4: the hybrid gained era and genre-lift components ("era/…": age and release-year shares
#    of the ratings; "genres/…": genre shares).
# 5: the quality prior became a component of its own ("quality/counts", "quality/means");
#    popularity keeps only its scores and counts.
# 6: the ablation (docs/evaluation.md) removed EASE and the trend from the blend ("ease/…",
#    "trend/…" are no longer saved); content stays, unweighted, for serving.
# 7: EASE (on the stars) is back in the blend where the catalogue fits in memory ("ease/…"):
#    tuned well (λ in the thousands) it earned its place in the ablation.
# 8: content has per-kind blocks and a learnt draw ("content/draw_coef", "content/draw_offset").
# 9: the rating predictor keeps Bayesian posterior draws: "predictor/item_bias" is movies ×
#    draws, "predictor/item_factors" movies × draws × factors, with each draw's user prior
#    ("predictor/user_precision", "predictor/user_shift").
# 10: a second EASE for new users ("ease_new/weights"), λ chosen on new users' validation.
FORMAT_VERSION = 10
META_KEY = "__meta__"
IDS_KEY = "catalog/ids"


class ArtifactError(Exception):
    """A model artifact that cannot be used: missing, damaged, too new or for other data."""


def save(
    path: str | Path, arrays: Mapping[str, np.ndarray], meta: Mapping, fingerprint: str
) -> Path:
    """Write `arrays` and `meta` to `path` atomically; also a readable `<path>.json` copy."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fingerprint": fingerprint,
        **meta,
    }
    # Any: np.savez's stub would match an array named "allow_pickle" against its bool flag.
    payload: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
    for key, value in payload.items():
        if value.dtype == object:
            raise ArtifactError(f"array {key!r} has dtype object: it would need pickle")
    payload[META_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    _atomic_write(path, lambda f: np.savez(f, **payload))
    _atomic_write(
        path.with_name(path.name + ".json"),
        lambda f: f.write(json.dumps(header, indent=2, sort_keys=True).encode()),
    )
    return path


def _atomic_write(path: Path, write) -> None:
    """Write through a file object (np.savez would append `.npz` to a name) then rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(
    path: str | Path, expect_fingerprint: str | None = None
) -> tuple[dict[str, np.ndarray], dict]:
    """Read every array and the metadata; raise `ArtifactError` unless all is well."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such model file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ArtifactError(f"{path}: not a readable model artifact ({exc})") from exc
    meta = _meta(path, arrays.pop(META_KEY, None))
    if IDS_KEY not in arrays:
        raise ArtifactError(f"{path}: the artifact has no item vocabulary")
    actual = Vocab(arrays[IDS_KEY]).fingerprint()
    if actual != meta.get("fingerprint"):
        raise ArtifactError(f"{path}: item vocabulary does not match its recorded fingerprint")
    if expect_fingerprint is not None and actual != expect_fingerprint:
        raise ArtifactError(
            f"{path}: trained on another catalogue (fingerprint {actual}, "
            f"expected {expect_fingerprint})"
        )
    return arrays, meta


def _meta(path: Path, raw: np.ndarray | None) -> dict:
    if raw is None:
        raise ArtifactError(f"{path}: the artifact has no metadata")
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: damaged metadata ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a moviebot model")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: model format version {version}, this moviebot reads {FORMAT_VERSION}: "
            "retrain with `moviebot train`"
        )
    return meta
