"""Era: how well a movie's release year suits a user, in log-lift units.

Two things say which release years a user will rate. Their moment: someone rating in 2000
rates films a few years old at most, rarely a 2015 one, and rarely as many classics as a
film buff in 2015. And themselves: the release years of the movies they have rated (some
watch mostly classics). Era adds two log-lifts over the release years of all training
ratings, each 0 where it says nothing:

- moment: log f(r − y) − log m(y), with r the user's moment's calendar year, f the share of
  training ratings made when the movie was r − y years old, and m(y) = Σ_r' P(r') f(r' − y)
  what f says about year y for the training ratings' own years P(r'). When everyone rated
  in the same year or two (MovieLens 100K) this is close to 0.
- own years: log(k(y) + `own_mix` · g(y)) − log((1 + `own_mix`) · g(y)), with g the
  release-year share of all training ratings and k a Gaussian kernel (`bandwidth_years`)
  over the release years of the movies the user rated `from_stars` or more (the years of
  movies they disliked are not theirs); 0 for a user with none.

Unlike the other components the sum is not standardised: its spread is how much release
years say on this data set (an era lift of 2 means the year makes a movie e² times as likely
to be rated by this user), so it speaks loudly where people rate across decades and softly
where they all rated at once. Each user's row is centred; movies of unknown year score 0
before centring. The bot asks at the latest training rating, as for the trend.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Self

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import gaussian_filter1d

from recommender.data import Catalog, Ratings, rating_times

AGES = np.arange(-5, 121)  # ages (rating year − release year) f is kept for; others clipped
TINY = 1e-12  # shares are clipped here before a log (only a zero `floor` lets them reach 0)


@dataclass(frozen=True)
class EraConfig:
    # Gaussian widths in years (0: none): the kernel over the user's own release years, the
    # smoothing of the age distribution f and of the release-year distribution g.
    bandwidth_years: float = 3.0
    smooth_years: float = 1.0
    smooth_release_years: float = 2.0
    own_mix: float = 0.3  # share of all ratings' release years mixed into the user's
    from_stars: float = 3.0  # a user's ratings below this (dislikes) are not their years
    floor: float = 0.01  # uniform share mixed into f and g, so no year is impossible


def calendar_years(times: np.ndarray) -> np.ndarray:
    """The UTC calendar year of each Unix time."""
    seconds = np.asarray(times, dtype=np.float64).astype("datetime64[s]")
    return seconds.astype("datetime64[Y]").astype(np.int64) + 1970


def _share(counts: np.ndarray, sigma: float, floor: float) -> np.ndarray:
    """Smoothed shares of these counts, with a uniform `floor` share mixed in."""
    smooth = counts.astype(np.float64)
    if sigma > 0:
        smooth = gaussian_filter1d(smooth, sigma, mode="constant")
    total = smooth.sum()
    smooth = smooth / total if total > 0 else np.full(len(counts), 1.0 / len(counts))
    return (1 - floor) * smooth + floor / len(counts)


class Era:
    """Scores every movie by how well its release year suits each user (see the module)."""

    name = "era"

    def __init__(self, config: EraConfig | None = None) -> None:
        self.config = config or EraConfig()
        self.params = asdict(self.config)
        self.first_year_ = 0  # release years are indexed from here
        self.release_: np.ndarray | None = None  # g: release-year shares of the ratings
        self.ages_: np.ndarray | None = None  # f over `AGES`; empty without rating times
        self.rating_years_: np.ndarray | None = None  # (calendar year, share of ratings)
        self.latest_: float = np.nan  # the latest rating's time
        self.years_: np.ndarray = np.zeros(0, dtype=np.int64)  # each movie's release year
        # Built once by `_prepare` (serving reuses them on every request, from any thread):
        self._index = np.zeros(0, dtype=np.int64)  # each movie's position in `release_`
        self._per_year: sp.csr_matrix | None = None  # movies of known year × release years
        self._kernel: np.ndarray | None = None  # release years × release years
        self._log_marginal: np.ndarray | None = None  # log m(y) for each movie
        self._at_latest: np.ndarray | None = None  # the moment's lift at `latest_`

    def fit(self, ratings: Ratings, catalog: Catalog) -> Self:
        matrix = ratings.matrix.tocsr()
        years = np.asarray(catalog.years, dtype=np.int64)
        known = years[years > 0]
        times = rating_times(ratings)
        rated = years[matrix.indices]
        dated = rated > 0
        last = int(known.max(initial=0))
        if times is not None:
            last = max(last, int(calendar_years(times).max()))
        self.first_year_ = int(known.min()) if len(known) else last
        span = max(last, self.first_year_) - self.first_year_ + 1
        self.release_ = _share(
            np.bincount(rated[dated] - self.first_year_, minlength=span)[:span],
            self.config.smooth_release_years,
            self.config.floor,
        )
        if times is None or not dated.any():
            self.ages_, self.rating_years_, self.latest_ = np.zeros(0), np.zeros((0, 2)), np.nan
        else:
            when = calendar_years(times)
            ages = np.clip(when[dated] - rated[dated], AGES[0], AGES[-1]) - AGES[0]
            self.ages_ = _share(
                np.bincount(ages, minlength=len(AGES)),
                self.config.smooth_years,
                self.config.floor,
            )
            on, count = np.unique(when[dated], return_counts=True)
            self.rating_years_ = np.column_stack([on, count / count.sum()]).astype(np.float64)
            self.latest_ = float(times.max())
        self.years_ = years
        return self._prepare()

    def _prepare(self) -> Self:
        """The arrays every request needs that depend only on the fitted model."""
        release = self._fitted()
        known = self.years_ > 0
        # movies released after the last year seen in training count as that year's
        self._index = np.clip(self.years_ - self.first_year_, 0, len(release) - 1)
        self._per_year = sp.csr_matrix(
            (np.ones(int(known.sum())), (np.flatnonzero(known), self._index[known])),
            shape=(len(self.years_), len(release)),
        )
        span = np.arange(len(release))
        apart = span[:, None] - span[None, :]
        width = self.config.bandwidth_years
        self._kernel = np.exp(-0.5 * (apart / width) ** 2) if width > 0 else (apart == 0) * 1.0
        self._log_marginal = self._at_latest = None
        if len(self.ages_):
            on, share = self.rating_years_[:, 0].astype(np.int64), self.rating_years_[:, 1]
            self._log_marginal = np.log(np.maximum(share @ self._ages_at(on), TINY))
            self._at_latest = self._moment(calendar_years(np.array([self.latest_])))
        return self

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """n_users × n_items era lifts, centred per user; `when`: each user's moment (Unix
        seconds; None or NaN: the latest training rating)."""
        self._fitted()
        rows = sp.csr_matrix(rows)
        n_users = rows.shape[0]
        lift = self._own(rows)
        if when is not None:
            given = np.asarray(when, dtype=np.float64).reshape(-1)
            if len(given) != n_users:
                raise ValueError(f"{len(given)} moments for {n_users} users")
            if self._at_latest is not None:
                moments = np.where(np.isfinite(given), given, self.latest_)
                lift += self._moment(calendar_years(moments))
        elif self._at_latest is not None:
            lift += self._at_latest
        lift[:, self.years_ <= 0] = 0.0
        lift -= lift.mean(axis=1, keepdims=True)
        return lift.astype(np.float32)

    def _own(self, rows: sp.csr_matrix) -> np.ndarray:
        """log(k + own_mix·g) − log((1 + own_mix)·g) at each movie's year; 0 without history."""
        release = self.release_
        rated = sp.csr_matrix(rows >= self.config.from_stars, dtype=np.float64)
        counts = np.asarray((rated @ self._per_year).todense())  # users × release years
        density = counts @ self._kernel
        totals = density.sum(axis=1, keepdims=True)
        mix = self.config.own_mix
        own = np.where(totals > 0, density / np.where(totals > 0, totals, 1.0), release[None, :])
        lift = np.log(np.maximum(own + mix * release, TINY))
        lift -= np.log(np.maximum((1 + mix) * release, TINY))
        return lift[:, self._index]

    def _ages_at(self, years: np.ndarray) -> np.ndarray:
        """f(r − y) for each calendar year r (rows) and each movie's release year y."""
        ages = np.clip(years[:, None] - self.years_[None, :], AGES[0], AGES[-1])
        return self.ages_[ages - AGES[0]]

    def _moment(self, years: np.ndarray) -> np.ndarray:
        """log f(r − y) − log m(y) for each calendar year r (one per user) and movie year y."""
        unique, inverse = np.unique(years, return_inverse=True)
        lift = np.log(np.maximum(self._ages_at(unique), TINY)) - self._log_marginal
        return lift[inverse.ravel()]

    def _fitted(self) -> np.ndarray:
        if self.release_ is None:
            raise RuntimeError("Era is not fitted: call fit() first")
        return self.release_

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "release": self._fitted(),
            "ages": self.ages_,
            "rating_years": self.rating_years_,
            "numbers": np.array([self.first_year_, self.latest_], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, params: dict, arrays: dict[str, np.ndarray], years: np.ndarray) -> Era:
        model = cls(EraConfig(**params))
        model.release_ = arrays["release"].astype(np.float64)
        model.ages_ = arrays["ages"].astype(np.float64)
        model.rating_years_ = arrays["rating_years"].astype(np.float64).reshape(-1, 2)
        first, model.latest_ = (float(x) for x in arrays["numbers"])
        model.first_year_ = int(first)
        model.years_ = np.asarray(years, dtype=np.int64)
        return model._prepare()
