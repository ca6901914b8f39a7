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
before centring. The bot asks at the latest training rating (the bot's users rate now).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import gaussian_filter1d

from recommender.component import CatalogChange, check_ratings
from recommender.data import Catalog, Ratings, counts_by, rating_times

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
    first, index = _calendar_index(times)
    return first + index


def _calendar_index(times: np.ndarray) -> tuple[int, np.ndarray]:
    """The first UTC calendar year of these Unix times, and each one's year less that one.
    Each time is placed among the starts of the years its range spans (a binary search over
    a few dozen values), not converted: 0.7 s instead of 1.6 s on 25 million rating times."""
    seconds = np.asarray(times, dtype=np.float64)
    if seconds.size == 0:
        return 0, np.zeros(seconds.shape, dtype=np.int64)
    ends = np.array([np.nanmin(seconds), np.nanmax(seconds)]).astype("datetime64[s]")
    first, last = ends.astype("datetime64[Y]").astype(np.int64) + 1970
    years = np.arange(first, last + 2)
    starts = (years - 1970).astype("datetime64[Y]").astype("datetime64[s]").astype(np.float64)
    return int(first), np.searchsorted(starts, seconds, side="right") - 1


def _year_bins(years: np.ndarray, first_year: int, span: int) -> np.ndarray:
    """Each release year's bin: years since `first_year`, clipped to the `span` bins (a movie
    released after the last year seen in training counts as that year's), and one more,
    `span`, for an unknown year (0)."""
    return np.where(years > 0, np.clip(years - first_year, 0, span - 1), span)


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

    name: ClassVar[str] = "era"

    def __init__(
        self,
        config: EraConfig,
        years: np.ndarray,
        first_year: int,
        release: np.ndarray,
        ages: np.ndarray,
        rating_years: np.ndarray,
        latest: float,
    ) -> None:
        self.config = config
        self.years = np.asarray(years, dtype=np.int64)  # each movie's release year, 0: unknown
        self.first_year = int(first_year)  # release years are indexed from here
        self.release = np.asarray(release, dtype=np.float64)  # g: release-year shares
        self.ages = np.asarray(ages, dtype=np.float64)  # f over `AGES`; empty without times
        # (calendar year, share of ratings) rows
        self.rating_years = np.asarray(rating_years, dtype=np.float64).reshape(-1, 2)
        self.latest = float(latest)  # the latest rating's time (NaN without times)
        # What every request needs, built once (serving reuses them from any thread). A lift
        # depends on a movie's release year only: it is worked out for each year the catalogue
        # has (a few dozen) and handed to the movies once, at the end of `score`.
        self._year_values, self._year_of = np.unique(self.years, return_inverse=True)
        self._year_of = self._year_of.ravel()
        self._year_counts = np.bincount(self._year_of).astype(np.float64)
        # movies released after the last year seen in training count as that year's
        self._index = np.clip(self._year_values - self.first_year, 0, len(self.release) - 1)
        self._unknown = self._year_values <= 0  # those years score 0 before centring
        # each movie's bin for `counts_by`: its year's, or the last (unknown year, not counted)
        self._year_bin = _year_bins(self.years, self.first_year, len(self.release))
        span = np.arange(len(self.release))
        apart = span[:, None] - span[None, :]
        width = config.bandwidth_years
        self._kernel = np.exp(-0.5 * (apart / width) ** 2) if width > 0 else (apart == 0) * 1.0
        self._log_marginal: np.ndarray | None = None  # log m(y) for each release year
        self._at_latest: np.ndarray | None = None  # the moment's lift at `latest`
        if len(self.ages):
            on, share = self.rating_years[:, 0].astype(np.int64), self.rating_years[:, 1]
            log_marginal = np.log(np.maximum(share @ self._ages_at(on), TINY))
            self._log_marginal = log_marginal
            self._at_latest = self._moment(calendar_years(np.array([self.latest])), log_marginal)

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: EraConfig | None = None) -> Self:
        cfg = config or EraConfig()
        check_ratings(ratings, catalog, cls.name)
        matrix = ratings.matrix.tocsr()
        years = np.asarray(catalog.years, dtype=np.int64)
        known = years[years > 0]
        times = rating_times(ratings)
        last = int(known.max(initial=0))
        if times is not None:
            last = max(last, int(calendar_years(np.array([times.max()]))[0]))
        first_year = int(known.min()) if len(known) else last
        span = max(last, first_year) - first_year + 1
        # The counts come from a count per movie, or per (calendar year, release year) with
        # times, one pass over the ratings instead of a dozen (25M ratings: ~2.5 s → ~0.8 s).
        year_bin = _year_bins(years, first_year, span)
        if times is None:
            per_movie = np.bincount(matrix.indices, minlength=len(years))
            dated = np.bincount(year_bin, weights=per_movie, minlength=span + 1)[:span]
        else:
            first_seen, seen = _calendar_index(times)
            seen *= span + 1
            seen += year_bin[matrix.indices]
            rows = int(seen.max()) // (span + 1) + 1
            joint = np.bincount(seen, minlength=rows * (span + 1)).reshape(rows, span + 1)
            joint = joint[:, :span]  # calendar year × release year
            dated = joint.sum(axis=0)
        release = _share(dated, cfg.smooth_release_years, cfg.floor)
        if times is None or not dated.any():
            return cls(cfg, years, first_year, release, np.zeros(0), np.zeros((0, 2)), np.nan)
        rating_year = first_seen + np.arange(joint.shape[0])
        ages = rating_year[:, None] - (first_year + np.arange(span))[None, :]
        ages = np.clip(ages, AGES[0], AGES[-1]) - AGES[0]
        by_age = np.bincount(ages.ravel(), weights=joint.ravel(), minlength=len(AGES))
        age_shares = _share(by_age, cfg.smooth_years, cfg.floor)
        per_year = joint.sum(axis=1)
        on = np.flatnonzero(per_year)
        count = per_year[on]
        rating_years = np.column_stack([rating_year[on], count / count.sum()]).astype(np.float64)
        return cls(cfg, years, first_year, release, age_shares, rating_years, float(times.max()))

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """n_users × n_items era lifts, centred per user; `when`: each user's moment (Unix
        seconds; None or NaN: the latest training rating)."""
        rows = rows if sp.isspmatrix_csr(rows) else sp.csr_matrix(rows)
        n_users = rows.shape[0]
        lift = self._own(rows)
        if when is not None:
            given = np.asarray(when, dtype=np.float64).reshape(-1)
            if len(given) != n_users:
                raise ValueError(f"{len(given)} moments for {n_users} users")
            if self._log_marginal is not None:
                moments = np.where(np.isfinite(given), given, self.latest)
                lift += self._moment(calendar_years(moments), self._log_marginal)
        elif self._at_latest is not None:
            lift += self._at_latest
        lift[:, self._unknown] = 0.0
        lift -= (lift @ self._year_counts / max(len(self.years), 1))[:, None]  # mean over movies
        return np.take(lift.astype(np.float32), self._year_of, axis=1)

    def _own(self, rows: sp.csr_matrix) -> np.ndarray:
        """log(k + own_mix·g) − log((1 + own_mix)·g) at each release year; 0 without history."""
        release = self.release
        years = len(self.release)  # the last bin: movies of unknown year, not counted
        counts = counts_by(rows, self.config.from_stars, self._year_bin, years + 1)[:, :years]
        density = counts @ self._kernel
        totals = density.sum(axis=1, keepdims=True)
        mix = self.config.own_mix
        own = np.where(totals > 0, density / np.where(totals > 0, totals, 1.0), release[None, :])
        lift = np.log(np.maximum(own + mix * release, TINY))
        lift -= np.log(np.maximum((1 + mix) * release, TINY))
        return np.asarray(lift[:, self._index])

    def _ages_at(self, years: np.ndarray) -> np.ndarray:
        """f(r − y) for each calendar year r (rows) and each release year y."""
        ages = np.clip(years[:, None] - self._year_values[None, :], AGES[0], AGES[-1])
        return np.asarray(self.ages[ages - AGES[0]])

    def _moment(self, years: np.ndarray, log_marginal: np.ndarray) -> np.ndarray:
        """log f(r − y) − log m(y) for each calendar year r (one per user) and release year y."""
        unique, inverse = np.unique(years, return_inverse=True)
        lift = np.log(np.maximum(self._ages_at(unique), TINY)) - log_marginal
        return np.asarray(lift[inverse.ravel()])

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "release": self.release,
            "ages": self.ages,
            "rating_years": self.rating_years,
            "numbers": np.array([self.first_year, self.latest], dtype=np.float64),
        }

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: EraConfig
    ) -> Self:
        """The release years are the catalogue's, so movies added since keep theirs."""
        first, latest = (float(x) for x in arrays["numbers"])
        return cls(
            config,
            catalog.years,
            int(first),
            arrays["release"],
            arrays["ages"],
            arrays["rating_years"],
            latest,
        )

    def reindexed(self, change: CatalogChange) -> Self:
        """Movies added since training are judged by their release year like any other."""
        return self.from_arrays(self.to_arrays(), change.catalog, self.config)
