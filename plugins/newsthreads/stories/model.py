"""The scoring model: how much an article looks like it belongs to a candidate thread.

A logistic model over a handful of features per (article, thread) pair. There are two weight
sets: one for pairs where both sides are dated (content *and* time), one for pairs where either
side is undated (content only), so an undated article is neither helped nor hurt by time. The
weights and the threshold are fitted by ``stories/fit.py`` (see ``stories/README.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FEATURES_DATED = ("cos_text", "cos_ents", "close", "far", "log_n")
FEATURES_UNDATED = ("cos_text", "cos_ents", "log_n")


@dataclass(frozen=True)
class PairFeatures:
    cos_text: float
    cos_ents: float
    gap_days: float | None  # None: one side undated
    size: int  # articles in the thread


def pair_features(cos_text: float, cos_ents: float, gap_days: float | None,
                  size: int) -> PairFeatures:
    return PairFeatures(cos_text, cos_ents, gap_days, size)


def vector(f: PairFeatures) -> tuple[float, ...]:
    """The feature vector the weights apply to (which set depends on dating)."""
    log_n = math.log(1 + f.size)
    if f.gap_days is None:
        return (f.cos_text, f.cos_ents, log_n)
    close = math.exp(-f.gap_days / 3.0)  # same day .. a few days
    far = min(f.gap_days, 60.0) / 30.0  # a month apart is a different event more often
    return (f.cos_text, f.cos_ents, close, far, log_n)


@dataclass(frozen=True)
class Model:
    dated: tuple[float, ...]  # bias first, then FEATURES_DATED
    undated: tuple[float, ...]  # bias first, then FEATURES_UNDATED
    threshold: float  # join the best candidate when its probability reaches this

    def probability(self, f: PairFeatures) -> float:
        x = vector(f)
        w = self.undated if f.gap_days is None else self.dated
        z = w[0] + sum(wi * xi for wi, xi in zip(w[1:], x, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


# Hand-set starting point; replaced by fitted values (see README).
MODEL = Model(
    dated=(-4.0, 6.0, 6.0, 1.0, -1.5, 0.0),
    undated=(-4.0, 6.0, 6.0, 0.0),
    threshold=0.5,
)
