"""Artifacts round-trip, and anything damaged or foreign is refused with ArtifactError."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommender import artifacts
from recommender.artifacts import ArtifactError
from recommender.hybrid import Recommender
from tests.recommender import synthetic
from tests.recommender.test_hybrid import COMEDY_FAN
from tests.recommender.test_scorers import SMALL


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Recommender, Path]:
    cat = synthetic.catalog()
    model = Recommender.train(synthetic.ratings(cat), cat, SMALL).with_info(version=3)
    path = tmp_path_factory.mktemp("models") / "model.npz"
    model.save(path)
    return model, path


def test_a_saved_model_loads_and_recommends_the_same(saved):
    model, path = saved
    loaded = Recommender.load(path, expect_fingerprint=model.catalog.items.fingerprint())
    assert loaded.recommend(COMEDY_FAN, n=5) == model.recommend(COMEDY_FAN, n=5)
    assert loaded.similar(synthetic.BLOCK_A[0], 3) == model.similar(synthetic.BLOCK_A[0], 3)
    assert loaded.info["version"] == 3 and loaded.config == model.config
    header = json.loads(Path(f"{path}.json").read_text())
    assert header["format_version"] == artifacts.FORMAT_VERSION


def test_saving_leaves_no_temporary_files(saved):
    _, path = saved
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz", "model.npz.json"]


def damage_truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def damage_flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]


@pytest.mark.parametrize(
    "damage",
    [damage_truncate, damage_flip, lambda data: b"", lambda data: b"not a zip at all"],
    ids=["truncated", "corrupt bytes", "empty", "not npz"],
)
def test_damaged_artifacts_are_refused(saved, tmp_path, damage):
    _, path = saved
    broken = tmp_path / "broken.npz"
    broken.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ArtifactError):
        Recommender.load(broken)


def test_a_missing_artifact_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="no such model file"):
        Recommender.load(tmp_path / "nope.npz")


def test_an_artifact_for_another_catalogue_is_refused(saved):
    _, path = saved
    with pytest.raises(ArtifactError, match="another catalogue"):
        Recommender.load(path, expect_fingerprint="0123456789abcdef")


@pytest.mark.parametrize(
    ("meta", "fingerprint", "message"),
    [
        ({}, "wrong", "does not match its recorded fingerprint"),
        ({"format": "something-else"}, None, "not a moviebot model"),
        ({"format_version": 99}, None, "format version 99"),
        ({"format_version": 1}, None, "retrain"),
        ({"format_version": artifacts.FORMAT_VERSION - 1}, None, "retrain"),
    ],
    ids=["fingerprint", "format", "version", "older version", "previous version"],
)
def test_mismatched_headers_are_refused(tmp_path, meta, fingerprint, message):
    ids = np.arange(5, dtype=np.int64)
    from recommender.vocab import Vocab

    path = tmp_path / "x.npz"
    artifacts.save(path, {"catalog/ids": ids}, {}, fingerprint or Vocab(ids).fingerprint())
    if meta:
        arrays = dict(np.load(path, allow_pickle=False))
        header = json.loads(arrays.pop(artifacts.META_KEY).tobytes())
        header.update(meta)
        arrays[artifacts.META_KEY] = np.frombuffer(json.dumps(header).encode(), np.uint8)
        with path.open("wb") as f:
            np.savez(f, **arrays)
    with pytest.raises(ArtifactError, match=message):
        artifacts.load(path)


def test_a_component_of_the_wrong_size_is_refused(saved, tmp_path):
    _, path = saved
    arrays = dict(np.load(path, allow_pickle=False))
    arrays["als/item_factors"] = arrays["als/item_factors"][:-1]
    broken = tmp_path / "short.npz"
    with broken.open("wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ArtifactError, match="inconsistent"):
        Recommender.load(broken)
