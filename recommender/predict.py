"""Rating prediction: biased matrix factorisation, Bayesian by default.

    r̂(u, i) = μ + b_u + b_i + p_u · q_i

The item side (b_i, q_i) is learnt; the user side is always solved from the user's current
ratings (a regression over the item side), so predictions for a user who rated a movie a
second ago, or who is not in the training data at all, are as good as for anyone else.

Two fits share that fold-in:
- Bayesian (`samples` > 0, the default): Gibbs sampling of Bayesian probabilistic matrix
  factorisation (Salakhutdinov & Mnih 2008), with the biases as one more coordinate of each
  side's vector: Gaussian priors whose means and precisions are themselves drawn (Normal-
  Wishart hyperpriors) and a drawn noise precision, so no regularisation is tuned. `samples`
  draws of the item side are kept, each with its user prior; a user is folded in against each
  draw (their exact conditional posterior mean given it) and the predictions are averaged. The
  averaging is what beats the single best fit: on MovieLens 100K holdout (seeds 0–3) RMSE
  0.912–0.914 → 0.8955–0.8975 (docs/benchmarks/notes.md, "Rating prediction: Bayesian MF").
- MAP (`samples` = 0): the classic biased SVD, alternating least squares with weighted-λ
  regularisation (Zhou et al. 2008); the `svd` baseline of the evaluation.
At scale the item side is learnt from a seeded sample of users (`PredictorConfig.max_ratings`):
its cost stays bounded, and the user side never needed the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, NamedTuple, Self

import numpy as np
import scipy.sparse as sp

from recommender.component import CatalogChange, RecommenderError, check_ratings, check_rows
from recommender.data import Catalog, Ratings

MAX_BATCH = 1024  # rows gathered together
BATCH_CELLS = 32_768  # rows × longest row × draws in a batch: bounds the padded arrays' memory
SOLVE_BATCH = 4_096  # rows whose normal equations are solved by one call
# MAP training refines each row's previous solution by this many conjugate-gradient steps
# instead of solving exactly (as implicit's ALS does): several times cheaper, the same RMSE.
CG_STEPS = 3
# The Bayesian model's hyperpriors (Salakhutdinov & Mnih's choices): Normal-Wishart with
# mean 0, scale I, β0 = 2, ν0 = the dimension; the noise precision ~ Gamma(1, 1).
BETA0 = 2.0
NOISE_SHAPE = NOISE_RATE = 1.0


class PredictorError(RecommenderError):
    """The predictor cannot be trained on these data."""


@dataclass(frozen=True)
class PredictorConfig:
    factors: int = 8  # 0: biases only
    # Bayesian: posterior draws kept and averaged (0: one MAP fit by ALS, the classic SVD)
    samples: int = 24
    burn_in: int = 10  # Bayesian: Gibbs sweeps before the first draw kept
    thin: int = 2  # Bayesian: sweeps from one kept draw to the next
    regularization: float = 0.15  # MAP: per rating, on the factors
    bias_regularization: float = 3.0  # MAP: pseudo-ratings pulling a bias towards 0
    iterations: int = 15  # MAP: ALS iterations
    seed: int = 0
    # More ratings than this: the item side is learnt from a seeded sample of users holding
    # about this many (every user is still folded in from their own ratings). 0: all.
    max_ratings: int = 5_000_000

    @property
    def sweeps(self) -> int:
        """Gibbs sweeps of a Bayesian fit."""
        return self.burn_in + self.thin * (self.samples - 1) + 1


@dataclass(frozen=True)
class Prior:
    """What a row's [bias, factors] is pulled towards, in units of the noise: `precision`
    (draws × d × d) and `shift` (= precision × prior mean, draws × d), plus `per_rating` × the
    row's number of ratings on the factors' diagonal (MAP's weighted-λ)."""

    precision: np.ndarray
    shift: np.ndarray
    per_rating: float = 0.0

    @classmethod
    def ridge(cls, cfg: PredictorConfig, dtype: Any) -> Prior:
        """MAP's regularisation: pseudo-ratings on the bias, weighted-λ on the factors."""
        precision = np.zeros((1, cfg.factors + 1, cfg.factors + 1), dtype=dtype)
        precision[0, 0, 0] = cfg.bias_regularization
        shift = np.zeros((1, cfg.factors + 1), dtype=dtype)
        return cls(precision, shift, cfg.regularization)


class BiasedMF:
    """Biased MF rating predictor with closed-form fold-in of users (`PredictorConfig`)."""

    name: ClassVar[str] = "biased_mf"

    def __init__(
        self,
        config: PredictorConfig,
        mean: float,
        item_bias: np.ndarray,
        item_factors: np.ndarray,
        scale: tuple[float, float],
        user_prior: Prior | None = None,
    ) -> None:
        """`item_bias`: movies × draws, `item_factors`: movies × draws × factors (one draw
        for a MAP fit); `user_prior`: each draw's prior of [b_u, p_u] (MAP: the ridge)."""
        n = len(item_bias)
        self.config = config
        self.mean = float(mean)  # μ
        self.item_bias = np.asarray(item_bias, dtype=np.float32).reshape(n, -1)  # b_i per draw
        draws = self.item_bias.shape[1]
        factors = np.asarray(item_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(factors).reshape(n, draws, -1)  # q_i per draw
        self.scale = (float(scale[0]), float(scale[1]))  # predictions are clipped to it
        self.user_prior = user_prior or Prior.ridge(config, np.float64)
        # per draw, [1 | q_i] per movie: the regressors a user's [b_u, p_u] is solved against
        side = np.concatenate(
            [self.item_bias.T[..., None], self.item_factors.transpose(1, 0, 2)], axis=2
        )
        # float32, as stored: a float64 copy of every draw would be 108 MB at 62,000 movies
        self._design = _regressors(side)
        # The mean over draws of b_i + p_u · q_i is one product: the draws' factors side by
        # side (a view), against the user's draws divided by their number
        self._bias = self.item_bias.mean(axis=1)
        self._factors = self.item_factors.reshape(n, -1)

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @property
    def draws(self) -> int:
        return self.item_bias.shape[1]

    @property
    def dislike_below(self) -> float:
        """Predicted stars under the middle of the rating scale (3 of 1–5) mean "you may not
        like it"."""
        return (self.scale[0] + self.scale[1]) / 2

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: PredictorConfig | None = None) -> Self:
        cfg = config or PredictorConfig()
        check_ratings(ratings, catalog, cls.name)
        # Single precision: the normal equations of a few dozen unknowns are well conditioned
        # under the priors, and float32 halves the time of the batched products and solves.
        matrix = sp.csr_matrix(ratings.matrix, dtype=np.float32)
        mean = float(matrix.data.astype(np.float64).mean())
        rng = np.random.default_rng(cfg.seed)
        matrix = cls._sample_users(matrix, cfg.max_ratings, rng)
        if cfg.samples > 0:
            items, prior = _gibbs(cfg, mean, matrix, rng)
        else:
            items, prior = _alternate(cfg, mean, matrix, rng), None
        if not np.all(np.isfinite(items)):
            raise PredictorError("rating predictor diverged (non-finite factors)")
        low, high = ratings.scale
        return cls(cfg, mean, items[..., 0], items[..., 1:], (float(low), float(high)), prior)

    @staticmethod
    def _sample_users(matrix: sp.csr_matrix, limit: int, rng: np.random.Generator) -> sp.csr_matrix:
        """The rows of users taken in a seeded random order while their ratings add up to at
        most `limit` (all rows, untouched, when there are not more than that)."""
        if limit <= 0 or matrix.nnz <= limit:
            return matrix
        order = rng.permutation(matrix.shape[0])
        taken = order[np.cumsum(np.diff(matrix.indptr)[order]) <= limit]
        return matrix[np.sort(taken)]

    def user_params(self, rows: sp.csr_matrix) -> np.ndarray:
        """Fold users in: [b_u, p_u] per draw and row (draws × rows × (1 + factors)), each the
        posterior mean given that draw of the item side (MAP: the ridge solution)."""
        rows = sp.csr_matrix(rows, dtype=np.float64)
        layout = _Layout.of(rows, self.mean, self.draws)
        return _solve_side(layout, self._design, self.user_prior)

    def stars(self, rows: sp.csr_matrix, columns: np.ndarray | None = None) -> np.ndarray:
        """Predicted stars averaged over the draws (n × n_items, or n × len(columns)),
        unclipped."""
        user = self.user_params(rows)
        cols = slice(None) if columns is None else np.asarray(columns)
        # float32 like the items' side: a float64 product would first copy all of theirs
        factors = user[:, :, 1:].transpose(1, 0, 2).reshape(user.shape[1], -1) / self.draws
        taste = factors.astype(np.float32) @ self._factors[cols].T
        bias = user[:, :, 0].mean(axis=0)
        return self.mean + bias[:, None] + self._bias[cols][None, :] + taste

    def predict(self, rows: sp.csr_matrix, columns: np.ndarray | None = None) -> np.ndarray:
        """Predicted stars (n × n_items, or n × len(columns)), clipped to the rating scale."""
        return np.clip(self.stars(rows, columns), *self.scale).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "item_bias": self.item_bias,
            "item_factors": self.item_factors,
            "user_precision": self.user_prior.precision,
            "user_shift": self.user_prior.shift,
            "mean_scale": np.array([self.mean, *self.scale], dtype=np.float64),
        }

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: PredictorConfig
    ) -> Self:
        check_rows(arrays["item_bias"], catalog, "predictor")
        mean, low, high = (float(x) for x in arrays["mean_scale"])
        per_rating = 0.0 if config.samples else config.regularization
        prior = Prior(arrays["user_precision"], arrays["user_shift"], per_rating)
        if prior.precision.shape[0] != arrays["item_bias"].shape[1]:
            raise ValueError("predictor: the user priors are not one per draw of the items")
        return cls(config, mean, arrays["item_bias"], arrays["item_factors"], (low, high), prior)

    def reindexed(self, change: CatalogChange) -> Self:
        """Movies added since training: no bias, no factors (the global mean and the user's
        own bias predict them)."""
        return type(self)(
            self.config,
            self.mean,
            change.gather(self.item_bias),
            change.gather(self.item_factors),
            self.scale,
            self.user_prior,
        )


def _alternate(
    cfg: PredictorConfig, mean: float, matrix: sp.csr_matrix, rng: np.random.Generator
) -> np.ndarray:
    """MAP: the item side's [bias, factors] (movies × 1 × d) by `cfg.iterations` of ALS."""
    items, by_user, by_movie = _start(cfg, mean, matrix, rng)
    users = np.zeros((matrix.shape[0], cfg.factors + 1), dtype=np.float32)
    prior = Prior.ridge(cfg, np.float32)
    for _ in range(cfg.iterations):
        users = _solve_side(by_user, _regressors(items[None]), prior, start=users)[0]
        items = _solve_side(by_movie, _regressors(users[None]), prior, start=items)[0]
    return items[:, None, :]


def _gibbs(
    cfg: PredictorConfig, mean: float, matrix: sp.csr_matrix, rng: np.random.Generator
) -> tuple[np.ndarray, Prior]:
    """Bayesian: `cfg.samples` Gibbs draws of the item side's [bias, factors] (movies × draws
    × d), and with each the user prior it was drawn with (Salakhutdinov & Mnih 2008)."""
    d = cfg.factors + 1
    items, by_user, by_movie = _start(cfg, mean, matrix, rng)
    users = np.zeros((matrix.shape[0], d), dtype=np.float32)
    rated_users, rated_items = by_user.lengths > 0, by_movie.lengths > 0
    noise = 2.0  # the noise precision α, drawn from the second sweep on
    user_hyper = np.zeros(d), np.eye(d)
    kept: list[tuple[np.ndarray, Prior]] = []
    for sweep in range(cfg.sweeps):
        if sweep:
            user_hyper = _normal_wishart(users[rated_users], rng)
        user_prior = _noise_units(*user_hyper, noise)
        users = _solve_side(by_user, _regressors(items[None]), user_prior, rng=rng, noise=noise)[0]
        item_prior = _noise_units(*_normal_wishart(items[rated_items], rng), noise)
        errors: list[float] = []
        items = _solve_side(
            by_movie,
            _regressors(users[None]),
            item_prior,
            rng=rng,
            noise=noise,
            errors=errors,
        )[0]
        if sweep >= cfg.burn_in and (sweep - cfg.burn_in) % cfg.thin == 0:
            kept.append((items, user_prior))
        noise = float(rng.gamma(NOISE_SHAPE + matrix.nnz / 2, 1 / (NOISE_RATE + sum(errors) / 2)))
    prior = Prior(
        np.concatenate([p.precision for _, p in kept]).astype(np.float64),
        np.concatenate([p.shift for _, p in kept]).astype(np.float64),
    )
    return np.stack([i for i, _ in kept], axis=1), prior


def _start(
    cfg: PredictorConfig, mean: float, matrix: sp.csr_matrix, rng: np.random.Generator
) -> tuple[np.ndarray, _Layout, _Layout]:
    """Both fits' starting point: the item side's [bias, factors] (zero biases, small random
    factors), and the ratings laid out by user and by movie."""
    items = np.zeros((matrix.shape[1], cfg.factors + 1), dtype=np.float32)
    items[:, 1:] = rng.normal(0, 0.1, (matrix.shape[1], cfg.factors))
    return items, _Layout.of(matrix, mean), _Layout.of(matrix.T.tocsr(), mean)


def _noise_units(mu: np.ndarray, precision: np.ndarray, noise: float) -> Prior:
    """A Gaussian prior N(mu, precision⁻¹) as the `Prior` of a solve in units of the noise."""
    scaled = precision / noise
    return Prior(scaled[None].astype(np.float32), (scaled @ mu)[None].astype(np.float32))


def _normal_wishart(rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A draw of (mean, precision) of the rows' Gaussian prior from its Normal-Wishart
    posterior (hyperprior mean 0, scale I, β0 = `BETA0`, ν0 = d)."""
    w = rows.astype(np.float64)
    n, d = w.shape
    center = w.mean(axis=0) if n else np.zeros(d)
    spread = (w - center).T @ (w - center)
    beta, nu = BETA0 + n, d + n
    scale_inv = np.eye(d) + spread + (BETA0 * n / beta) * np.outer(center, center)
    chol = np.linalg.cholesky(np.linalg.inv(scale_inv))
    # Bartlett: the precision ~ Wishart(scale, ν) is (L A)(L A)ᵀ
    bartlett = np.zeros((d, d))
    bartlett[np.diag_indices(d)] = np.sqrt(rng.chisquare(nu - np.arange(d)))
    bartlett[np.tril_indices(d, -1)] = rng.normal(size=d * (d - 1) // 2)
    root = chol @ bartlett
    precision = root @ root.T
    # the mean ~ N(n x̄ / β, (β precision)⁻¹)
    mean_root = np.linalg.cholesky(beta * precision)
    mu = n * center / beta + np.linalg.solve(mean_root.T, rng.normal(size=d))
    return mu, precision


def _regressors(side: np.ndarray) -> np.ndarray:
    """[bias, factors] of one side (draws × rows × d) → [1, factors, bias] (draws × rows + 1
    × d + 1): the regressors of the other side's solve and, last, the offset each rating's
    target is less; with a zero row after the last (what padding points to)."""
    design = np.zeros((side.shape[0], side.shape[1] + 1, side.shape[2] + 1), dtype=side.dtype)
    design[:, :-1, 1:-1] = side[..., 1:]
    design[:, :-1, 0] = 1.0
    design[:, :-1, -1] = side[..., 0]
    return design


class _Batch(NamedTuple):
    """Rows of similar length, padded to the longest: where their ratings are."""

    rows: np.ndarray  # the matrix rows
    slot: slice  # their places in their chunk
    cols: np.ndarray  # rows × longest: each rating's column (padding: the zero row after the last)
    centred: np.ndarray  # rows × longest: each rating minus the global mean (padding: 0)


class _Layout(NamedTuple):
    """How one side's ratings are gathered for `_solve_side`: rows in order of length, in
    chunks of up to `SOLVE_BATCH` solved together, each in batches of similar length whose
    normal equations one batched product builds. It depends only on the ratings, so a fit
    works it out once, not in each of its sweeps (the gathers were a fifth of a sweep)."""

    lengths: np.ndarray  # ratings per row, one per row of the matrix
    chunks: tuple[tuple[np.ndarray, tuple[_Batch, ...]], ...]  # (rows, their batches)

    @classmethod
    def of(cls, matrix: sp.csr_matrix, mean: float, draws: int = 1) -> _Layout:
        """The layout of `matrix` for solves against `draws` draws of the other side (a
        batch holds at most `BATCH_CELLS` cells over all the draws)."""
        lengths = np.diff(matrix.indptr)
        order = np.argsort(lengths, kind="stable")
        order = order[lengths[order] > 0]
        pad = matrix.shape[1]
        chunks = []
        for first in range(0, len(order), SOLVE_BATCH):
            chunk = order[first : first + SOLVE_BATCH]
            batches, done = [], 0
            while done < len(chunk):
                longest = int(lengths[chunk[min(done + MAX_BATCH, len(chunk)) - 1]])
                size = max(1, min(MAX_BATCH, BATCH_CELLS // (longest * draws)))
                rows = chunk[done : done + size]
                steps = np.arange(int(lengths[rows[-1]]))
                valid = steps[None, :] < lengths[rows][:, None]
                positions = np.where(valid, matrix.indptr[rows][:, None] + steps[None, :], 0)
                # np.take, not fancy indexing: several times faster on these gathers
                cols = np.where(valid, np.take(matrix.indices, positions), pad)
                centred = np.where(valid, np.take(matrix.data, positions) - mean, 0.0)
                batches.append(_Batch(rows, slice(done, done + len(rows)), cols, centred))
                done += len(rows)
            chunks.append((chunk, tuple(batches)))
        return cls(lengths, tuple(chunks))


def _solve_side(
    layout: _Layout,
    other: np.ndarray,
    prior: Prior,
    start: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    noise: float = 1.0,
    errors: list[float] | None = None,
) -> np.ndarray:
    """For each draw of `other` = [1 | q | b] (draws × columns + 1 × d + 1, `_regressors`) and
    each row of the ratings laid out in `layout`: the [bias, factors] w of least squared
    error of [1 | q] w against the row's centred ratings less b, under `prior`, solved
    exactly, or refined from `start` (the previous solution, one draw) by `CG_STEPS` steps,
    or drawn from its Gaussian posterior with noise precision `noise`
    (`rng` given, one draw). `errors`, when given, gets the squared error of the solutions on
    their rows' ratings, one sum per solved chunk (from the normal equations: Σt² − 2 wᵀXᵀt
    + wᵀXᵀX w, no second pass over the ratings).

    `other` has one row more than the ratings have columns, all zeros: padding points there,
    so padded cells add nothing to the sums.
    """
    draws, k = other.shape[0], other.shape[2] - 1
    out = np.zeros((draws, len(layout.lengths), k), dtype=other.dtype)
    diag = np.arange(1, k)
    most = max((len(chunk) for chunk, _ in layout.chunks), default=0)
    a = np.empty((draws, most, k, k), dtype=other.dtype)
    b = np.empty((draws, most, k), dtype=other.dtype)
    squares = np.empty((draws, most), dtype=np.float64)
    for chunk, batches in layout.chunks:
        for batch in batches:
            # [x | t] per rating: its regressors and its target, the centred stars less the
            # other side's bias; one product gives XᵀX, Xᵀt and tᵀt (padding: all zeros)
            x = np.take(other, batch.cols, axis=1)
            x[..., k] = batch.centred[None] - x[..., k]
            products = np.matmul(x.swapaxes(-1, -2), x)
            a[:, batch.slot] = products[..., :k, :k]
            b[:, batch.slot] = products[..., :k, k]
            squares[:, batch.slot] = products[..., k, k]
        n = len(chunk)
        if errors is not None:
            gram, moment = a[:, :n].copy(), b[:, :n].copy()
        a[:, :n] += prior.precision[:, None]
        b[:, :n] += prior.shift[:, None]
        a[:, :n, diag, diag] += prior.per_rating * layout.lengths[chunk][None, :, None]
        if rng is not None:
            out[0, chunk] = _draw(a[0, :n], b[0, :n], rng, noise)
        elif start is not None:
            out[0, chunk] = _refine(a[0, :n], b[0, :n], start[chunk])
        else:
            out[:, chunk] = np.linalg.solve(a[:, :n], b[:, :n, :, None])[..., 0]
        if errors is not None:
            w = out[:, chunk]
            fitted = np.einsum("dri,drij,drj->", w, gram, w) - 2 * np.einsum("dri,dri->", w, moment)
            errors.append(float(squares[:, :n].sum() + fitted))
    return out


def _draw(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A draw from N(a⁻¹ b, (noise a)⁻¹) for each of a batch of systems: with a = L Lᵀ,
    a⁻¹ (b + L z / √noise) = L⁻ᵀ (L⁻¹ b + z / √noise).

    The factor and both triangular solves are written out over the batch (`_cholesky`):
    numpy's `linalg` calls LAPACK once per 9 × 9 system, and for thousands of them that
    overhead was a quarter of a Gibbs sweep."""
    z = rng.standard_normal(b.shape).astype(a.dtype) / math.sqrt(noise)
    low = _cholesky(a)
    d = b.shape[1]
    y = np.empty((d, len(b)), dtype=a.dtype)
    for i in range(d):  # L y = b, forwards
        y[i] = (b[:, i] - (low[i, :i] * y[:i]).sum(axis=0)) / low[i, i]
    y += z.T
    x = np.empty_like(y)
    for i in reversed(range(d)):  # Lᵀ x = y, backwards
        x[i] = (y[i] - (low[i + 1 :, i] * x[i + 1 :]).sum(axis=0)) / low[i, i]
    return x.T


def _cholesky(a: np.ndarray) -> np.ndarray:
    """The lower Cholesky factors of a batch of symmetric positive definite matrices (n × d
    × d), laid out d × d × n: each step works on all n at once, a vector per entry. A matrix
    that is not positive definite gets NaN (the fit's finiteness check then refuses it)."""
    t = np.ascontiguousarray(a.transpose(1, 2, 0))
    low = np.zeros_like(t)
    for j in range(t.shape[0]):
        row = low[j, :j]
        with np.errstate(invalid="ignore"):
            pivot = np.sqrt(t[j, j] - (row * row).sum(axis=0))
        low[j, j] = pivot
        low[j + 1 :, j] = (t[j + 1 :, j] - (low[j + 1 :, :j] * row[None]).sum(axis=1)) / pivot
    return low


def _refine(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`CG_STEPS` steps of Jacobi-preconditioned conjugate gradients on a[n] x[n] = b[n] (a
    batch of symmetric positive definite systems) from x."""
    tiny = np.finfo(a.dtype).tiny
    diagonal = np.maximum(np.einsum("nii->ni", a), tiny)
    residual = b - np.einsum("nij,nj->ni", a, x)
    z = residual / diagonal
    direction = z.copy()
    rz = np.einsum("ni,ni->n", residual, z)
    for _ in range(CG_STEPS):
        ad = np.einsum("nij,nj->ni", a, direction)
        alpha = rz / np.maximum(np.einsum("ni,ni->n", direction, ad), tiny)
        x = x + alpha[:, None] * direction
        residual -= alpha[:, None] * ad
        z = residual / diagonal
        rz, previous = np.einsum("ni,ni->n", residual, z), rz
        direction = z + (rz / np.maximum(previous, tiny))[:, None] * direction
    return x


def agreeing(stars: Sequence[float | None]) -> list[bool]:
    """Which of these predicted stars of a ranked list (best first) can be shown without the
    order contradicting them: the longest run, down the list, whose stars as shown (to 0.1)
    never rise, and of several such runs the one starting earliest. The list is ranked by the
    blend (a top-N relevance score), not by predicted stars, so a ★4.7 under a ★3.8 would say
    the order is wrong; its ★ is left out instead. None (no prediction) is never shown."""
    known = [(i, round(float(s), 1)) for i, s in enumerate(stars) if s is not None]
    # longest[a]: the longest non-rising run of known stars that starts at known[a]
    longest = [1] * len(known)
    for a in reversed(range(len(known))):
        for b in range(a + 1, len(known)):
            if known[b][1] <= known[a][1]:
                longest[a] = max(longest[a], longest[b] + 1)
    keep = [False] * len(stars)
    want, last = max(longest, default=0), math.inf
    for (i, value), length in zip(known, longest, strict=True):
        if want and length == want and value <= last:
            keep[i], last, want = True, value, want - 1
    return keep
