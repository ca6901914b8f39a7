"""Peer libraries on the same split, in the same table: Surprise (SVD, SVD++, KNNBaseline) for
rating prediction and cornac (EASE, BPR) for top-N. `moviebot evaluate --peers`; needs the
optional extra `pip install 'moviebot[peers]'`.

Each peer is fitted on exactly the train part the other models see and is asked through the
same harness. Surprise's and cornac's factor models keep a vector per *training* user and
cannot fold a history in, so the adapters recognise each train user by their train row (the
harness asks with exactly those rows); a row they have never seen gets the item side alone.
Surprise's models are rating models: the report gives them RMSE / MAE only (ranking 1,682
predictions per user through Surprise's Python loop would take minutes and say little).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recommender.component import Unfitted
from recommender.data import Catalog, Ratings
from recommender.report import ModelSkipped, ModelSpec

SURPRISE_SVD_GRID = {"reg_all": (0.02, 0.05, 0.1), "n_factors": (50, 100)}
CORNAC_EASE_GRID = {"lamb": (1000.0, 5000.0, 10_000.0), "posB": (True, False)}
CORNAC_BPR_GRID = {"k": (10, 50), "lambda_reg": (0.001, 0.01)}
SEED = 0


def _row_key(indices: np.ndarray, data: np.ndarray) -> bytes:
    return np.asarray(indices, dtype=np.int64).tobytes() + np.asarray(data, np.float32).tobytes()


def _train_rows(matrix: sp.csr_matrix) -> dict[bytes, int]:
    """Each train user's row (as the harness will ask with it) → their row index."""
    m = sp.csr_matrix(matrix)
    m.sort_indices()
    return {
        _row_key(m.indices[a:b], m.data[a:b]): u
        for u, (a, b) in enumerate(zip(m.indptr[:-1], m.indptr[1:], strict=True))
        if b > a
    }


def _who(rows: sp.csr_matrix, known: dict[bytes, int]) -> list[int | None]:
    r = sp.csr_matrix(rows)
    r.sort_indices()
    return [
        known.get(_row_key(r.indices[a:b], r.data[a:b]))
        for a, b in zip(r.indptr[:-1], r.indptr[1:], strict=True)
    ]


def _triples(ratings: Ratings) -> list[tuple[str, str, float]]:
    coo = ratings.matrix.tocoo()
    return [
        (str(u), str(i), float(r))
        for u, i, r in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
    ]


class SurprisePeer:
    """A Surprise rating model: `predict(rows)` gives every movie's predicted stars."""

    uses_time: ClassVar[bool] = False

    def __init__(self, name: str, algo: Any, known: dict[bytes, int], n_items: int) -> None:
        self.name = name
        self.algo = algo
        self.known = known
        self.n_items = n_items

    @property
    def params(self) -> dict[str, Any]:
        keep = ("n_factors", "n_epochs", "reg_bu", "reg_pu", "k", "sim_options", "bsl_options")
        return {k: getattr(self.algo, k) for k in keep if hasattr(self.algo, k)}

    @classmethod
    def unfitted(cls, name: str, make: Callable[[], Any]) -> Unfitted[SurprisePeer]:
        def fit(ratings: Ratings, catalog: Catalog) -> SurprisePeer:
            import pandas as pd
            from surprise import Dataset, Reader

            frame = pd.DataFrame(_triples(ratings), columns=["user", "item", "rating"])
            data = Dataset.load_from_df(frame, Reader(rating_scale=ratings.scale))
            algo = make()
            algo.fit(data.build_full_trainset())
            return cls(name, algo, _train_rows(ratings.matrix), ratings.matrix.shape[1])

        return Unfitted(name, fit)

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        return self.predict(rows)

    def predict(self, rows: sp.csr_matrix) -> np.ndarray:
        """Every movie's estimate for each row's user: SVD's and SVD++'s from their factors
        in numpy (the formula of their `estimate`), any other model through `predict`."""
        algo, trainset = self.algo, self.algo.trainset
        inner = np.array(
            [
                trainset.to_inner_iid(str(i)) if trainset.knows_item(str(i)) else -1
                for i in range(self.n_items)
            ]
        )
        known = inner >= 0
        out = np.empty(rows.shape, dtype=np.float32)
        for u, who in enumerate(_who(rows, self.known)):
            raw = "?" if who is None else str(who)
            if not hasattr(algo, "qi") or not trainset.knows_user(raw):
                out[u] = [algo.predict(raw, str(i)).est for i in range(self.n_items)]
                continue
            iu = trainset.to_inner_uid(raw)
            user = algo.pu[iu].copy()
            if hasattr(algo, "yj"):  # SVD++: the implicit feedback of the user's items
                rated = [j for j, _ in trainset.ur[iu]]
                user += algo.yj[rated].sum(axis=0) / np.sqrt(len(rated))
            est = np.full(self.n_items, trainset.global_mean + algo.bu[iu])
            est[known] += algo.bi[inner[known]] + algo.qi[inner[known]] @ user
            out[u] = est
        return out


class CornacPeer:
    """A cornac top-N model. EASE scores any history (x · B); BPR knows its train users."""

    uses_time: ClassVar[bool] = False

    def __init__(self, name: str, model: Any, train_set: Any, known: dict[bytes, int]) -> None:
        self.name = name
        self.model = model
        self.known = known
        n_items = max((int(raw) for raw in train_set.iid_map), default=-1) + 1
        self._inner = np.full(n_items, -1, dtype=np.int64)  # our item index → cornac's
        for raw, inner in train_set.iid_map.items():
            self._inner[int(raw)] = inner
        self._uid = {int(raw): inner for raw, inner in train_set.uid_map.items()}

    @property
    def params(self) -> dict[str, Any]:
        keep = ("lamb", "posB", "k", "max_iter", "learning_rate", "lambda_reg")
        return {k: getattr(self.model, k) for k in keep if hasattr(self.model, k)}

    @classmethod
    def unfitted(cls, name: str, make: Callable[[], Any]) -> Unfitted[CornacPeer]:
        def fit(ratings: Ratings, catalog: Catalog) -> CornacPeer:
            from cornac.data import Dataset

            train_set = Dataset.from_uir(_triples(ratings), seed=SEED)
            model = make()
            model.fit(train_set)
            return cls(name, model, train_set, _train_rows(ratings.matrix))

        return Unfitted(name, fit)

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        n_items = rows.shape[1]
        inner = np.full(n_items, -1, dtype=np.int64)
        inner[: len(self._inner)] = self._inner[:n_items]
        seen = inner >= 0
        out = np.full(rows.shape, -np.inf, dtype=np.float32)
        if hasattr(self.model, "B"):  # EASE: the history through B, over cornac's items
            x = sp.csr_matrix(rows)[:, np.flatnonzero(seen)]
            order = np.argsort(inner[seen])
            x = x[:, order]  # columns in cornac's inner order
            scores = np.asarray(x @ self.model.B)
            out[:, np.flatnonzero(seen)[order]] = scores
            return out
        for u, who in enumerate(_who(rows, self.known)):
            if who is None or who not in self._uid:
                continue
            scores = np.asarray(self.model.score(self._uid[who]), dtype=np.float32)
            out[u, seen] = scores[inner[seen]]
        return out


def peer_specs() -> list[ModelSpec]:
    """Surprise SVD (grid on validation RMSE), SVD++ and KNNBaseline (Surprise's defaults: a
    fit takes minutes), cornac EASE and BPR (grids on validation NDCG). Skipped with a note
    naming the extra when the libraries are not installed."""
    try:
        import cornac
        import surprise
    except ImportError as exc:
        missing = exc.name or "surprise/cornac"

        def skip(p: dict[str, Any]) -> Any:
            raise ModelSkipped(f"{missing} is not installed: pip install 'moviebot[peers]'")

        return [ModelSpec("peers", skip)]

    def svd(p: dict[str, Any]) -> Unfitted[SurprisePeer]:
        return SurprisePeer.unfitted("surprise_svd", lambda: surprise.SVD(random_state=SEED, **p))

    def bpr(p: dict[str, Any]) -> Unfitted[CornacPeer]:
        return CornacPeer.unfitted(
            "cornac_bpr",
            lambda: cornac.models.BPR(max_iter=100, learning_rate=0.01, seed=SEED, **p),
        )

    return [
        ModelSpec(
            "surprise_svd", svd, grid=SURPRISE_SVD_GRID, rating=True, metric="rmse", ranking=False
        ),
        ModelSpec(
            "surprise_svdpp",
            lambda p: SurprisePeer.unfitted(
                "surprise_svdpp", lambda: surprise.SVDpp(random_state=SEED, cache_ratings=True)
            ),
            rating=True,
            ranking=False,
        ),
        ModelSpec(
            "surprise_knnbaseline",
            lambda p: SurprisePeer.unfitted(
                "surprise_knnbaseline",
                lambda: surprise.KNNBaseline(
                    sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False
                ),
            ),
            rating=True,
            ranking=False,
        ),
        ModelSpec(
            "cornac_ease",
            lambda p: CornacPeer.unfitted("cornac_ease", lambda: cornac.models.EASE(**p)),
            grid=CORNAC_EASE_GRID,
        ),
        ModelSpec("cornac_bpr", bpr, grid=CORNAC_BPR_GRID),
    ]
