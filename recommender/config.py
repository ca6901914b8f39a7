"""Every setting of the served model in one frozen object, to and from a plain dict (JSON).

Each component has its own settings (`ALSConfig`, `ContentConfig`, …); `blend` weighs them.
What the defaults are and how they were chosen: docs/tuning.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from recommender.als import ALSConfig
from recommender.blend import BlendConfig
from recommender.content import ContentConfig
from recommender.ease import EASEConfig
from recommender.era import EraConfig
from recommender.genre_lift import GenreLiftConfig
from recommender.popularity import PopularityConfig
from recommender.predict import PredictorConfig
from recommender.quality import QualityConfig


@dataclass(frozen=True)
class HybridConfig:
    als: ALSConfig = field(default_factory=ALSConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    popularity: PopularityConfig = field(default_factory=PopularityConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    era: EraConfig = field(default_factory=EraConfig)
    genres: GenreLiftConfig = field(default_factory=GenreLiftConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)
    # EASE in the blend: on the stars, λ as validation chose it for the standalone EASE.
    ease: EASEConfig = field(default_factory=lambda: EASEConfig(5000.0, values=True))
    # EASE for new users: λ as validation chose it for the standalone EASE on new users
    # (given-N), far stronger than established users want (docs/tuning.md).
    ease_new: EASEConfig = field(default_factory=lambda: EASEConfig(125000.0, values=True))
    # Confidence of a rating in the "watched" ALS: 1 + alpha · (1 + watched_slope · stars).
    watched_slope: float = 0.25

    @property
    def watched(self) -> ALSConfig:
        """The "watched" ALS: the main ALS's settings, but every rating is an interaction,
        whatever its stars; more stars only add confidence (`watched_slope` per star)."""
        return replace(self.als, positive_from=0.0, slope=self.watched_slope, negative_weight=0.0)

    @property
    def quality(self) -> QualityConfig:
        return QualityConfig(prior=self.blend.quality_prior)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HybridConfig:
        """The configuration `to_dict` made; `TypeError` for a setting this version does not
        have (say, one removed since: a tuned.json or an artifact naming it is refused rather
        than read as something else)."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(sorted(unknown))}")
        # EASE's defaults here are not EASEConfig's: a missing one is the field's default.
        default = cls()
        return cls(
            als=ALSConfig(**data.get("als", {})),
            content=ContentConfig(**data.get("content", {})),
            popularity=PopularityConfig(**data.get("popularity", {})),
            predictor=PredictorConfig(**data.get("predictor", {})),
            era=EraConfig(**data.get("era", {})),
            genres=GenreLiftConfig(**data.get("genres", {})),
            blend=BlendConfig(**data.get("blend", {})),
            ease=EASEConfig(**data["ease"]) if "ease" in data else default.ease,
            ease_new=EASEConfig(**data["ease_new"]) if "ease_new" in data else default.ease_new,
            watched_slope=float(data.get("watched_slope", cls.watched_slope)),
        )
