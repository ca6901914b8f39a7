"""A trained model as arrays and back: the catalogue, every component, the rating predictor.

The file format itself (npz + embedded JSON, atomic writes, version and fingerprint checks) is
`recommender.artifacts`; this module says which arrays make a model. Keys are
"<component>/<name>" ("catalog/ids", "als/item_factors", "predictor/item_bias", …).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from recommender import artifacts
from recommender.config import HybridConfig
from recommender.data import Catalog
from recommender.predict import BiasedMF
from recommender.scoring import Hybrid
from recommender.vocab import Vocab

PREDICTOR = "predictor"


def catalog_arrays(catalog: Catalog) -> dict[str, np.ndarray]:
    """What the model knows of each movie (content features are in the content vectors)."""
    return {
        "catalog/ids": catalog.items.ids,
        "catalog/titles": np.asarray(catalog.titles, dtype=str),
        "catalog/years": catalog.years,
        "catalog/genres": np.asarray(["|".join(g) for g in catalog.genres], dtype=str),
    }


def catalog_from_arrays(arrays: Mapping[str, np.ndarray]) -> Catalog:
    return Catalog(
        items=Vocab(arrays["catalog/ids"]),
        titles=tuple(str(t) for t in arrays["catalog/titles"]),
        years=arrays["catalog/years"].astype(np.int32),
        genres=tuple(tuple(g for g in str(s).split("|") if g) for s in arrays["catalog/genres"]),
    )


def to_arrays(catalog: Catalog, hybrid: Hybrid, predictor: BiasedMF) -> dict[str, np.ndarray]:
    """Every array the model is made of."""
    arrays = catalog_arrays(catalog) | hybrid.to_arrays()
    arrays.update({f"{PREDICTOR}/{k}": v for k, v in predictor.to_arrays().items()})
    return arrays


def from_arrays(
    arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]
) -> tuple[Catalog, Hybrid, BiasedMF]:
    """The model `to_arrays` made, with its settings from `meta["config"]`; `KeyError`,
    `TypeError` or `ValueError` when the arrays are not one model."""
    config = HybridConfig.from_dict(meta["config"])
    catalog = catalog_from_arrays(arrays)
    hybrid = Hybrid.from_arrays(arrays, catalog, config)
    prefix = PREDICTOR + "/"
    own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
    return catalog, hybrid, BiasedMF.from_arrays(own, catalog, config.predictor)


def save(
    path: str | Path,
    catalog: Catalog,
    hybrid: Hybrid,
    predictor: BiasedMF,
    info: Mapping[str, Any],
) -> None:
    """Write one artifact (npz + embedded JSON), atomically."""
    meta = {"config": hybrid.config.to_dict(), "info": dict(info)}
    arrays = to_arrays(catalog, hybrid, predictor)
    artifacts.save(path, arrays, meta, fingerprint=catalog.items.fingerprint())


def load(
    path: str | Path, expect_fingerprint: str | None = None
) -> tuple[Catalog, Hybrid, BiasedMF, dict[str, Any]]:
    """Read an artifact; raises `artifacts.ArtifactError` if it is unusable."""
    arrays, meta = artifacts.load(path, expect_fingerprint=expect_fingerprint)
    try:
        catalog, hybrid, predictor = from_arrays(arrays, meta)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise artifacts.ArtifactError(f"{path}: inconsistent model artifact ({exc})") from exc
    return catalog, hybrid, predictor, dict(meta.get("info", {}))
