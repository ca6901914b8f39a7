"""The profile's rating histogram as SVG geometry, drawn by the page (no image round trip)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.account import Summary

WIDTH, HEIGHT, AXIS = 320, 160, 24  # viewBox units; the SVG scales to the page


@dataclass(frozen=True)
class Bar:
    label: str  # "★4"
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    width: int = WIDTH
    height: int = HEIGHT
    axis: int = AXIS

    @property
    def description(self) -> str:
        return ", ".join(f"{b.label}: {b.count}" for b in self.bars)


def histogram(summary: Summary) -> Chart | None:
    """One bar per step of the rating scale, as tall as its share of the most used step."""
    counts = summary.histogram
    if not counts or not any(c for _, c in counts):
        return None
    top = max(c for _, c in counts)
    slot = WIDTH / len(counts)
    room = HEIGHT - AXIS - 16  # 16: the count above the tallest bar
    bars = []
    for i, (stars, count) in enumerate(counts):
        tall = room * count / top
        bars.append(
            Bar(
                f"★{stars:g}", count, i * slot + slot * 0.15, HEIGHT - AXIS - tall, slot * 0.7, tall
            )
        )
    return Chart(tuple(bars))
