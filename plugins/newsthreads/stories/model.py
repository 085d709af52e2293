"""The scoring model: how much an article looks like it belongs to a candidate thread.

A logistic model over a handful of features per (article, thread) pair. There are two weight
sets: one for pairs where both sides are dated (content *and* time), one for pairs where either
side is undated (content only), so an undated article is neither helped nor hurt by time. The
weights and the threshold are fitted by ``stories/fit.py`` (see ``stories/README.md``); the
weights are not meant to be read one by one (the cosines are strongly correlated), only as a
whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FEATURES_DATED = ("cos_text", "cos_ents", "cos_xling", "ents_other_lang", "xling_other_lang",
                  "same_lang", "cover_item", "cover_thread", "close_x_content",
                  "coarse_x_content", "far", "log_n")
FEATURES_UNDATED = ("cos_text", "cos_ents", "cos_xling", "ents_other_lang", "xling_other_lang",
                    "same_lang", "cover_item", "cover_thread", "cos_nums", "log_n")


@dataclass(frozen=True)
class PairFeatures:
    """What is known about one (article, candidate thread) pair."""

    cos_text: float  # TF-IDF cosine of stems with the thread centroid (same language)
    cos_ents: float  # ... of entities (language-neutral)
    cos_xling: float  # ... of language-blind word keys (cognates, numbers)
    cover_item: float  # weight share of the article's top entities found in the thread
    cover_thread: float  # share of the thread's top entities found in the article
    gap_days: float | None  # None: one side undated
    coarse: bool  # the gap was measured on month (or coarser) dates
    same_lang: float  # share of the thread's articles in the article's language
    size: int  # articles in the thread
    cos_nums: float = 0.0  # TF-IDF cosine of the numbers and dates written in the texts


def vector(f: PairFeatures) -> tuple[float, ...]:
    """The feature vector the weights apply to (which set depends on dating).

    ``*_other_lang`` let entity and language-blind agreement count for more when the thread
    is written in other languages, where stems cannot match; ``same_lang`` lets the model ask
    more of a same-language pair, whose stems *can* match. Time enters as a penalty for distance
    (``far``) and as closeness *times* content agreement: being published the same day
    amplifies evidence that the article is about the same thing, it never creates it (a busy
    day has hundreds of unrelated articles). ``close`` is for precise dates only: a month date
    overlapping a thread's span is weaker evidence, kept apart as ``coarse``.
    """
    log_n = math.log(1 + f.size)
    other = 1.0 - f.same_lang
    content = (f.cos_text, f.cos_ents, f.cos_xling, f.cos_ents * other, f.cos_xling * other,
               f.same_lang, f.cover_item, f.cover_thread)
    if f.gap_days is None:
        return (*content, f.cos_nums, log_n)
    agree = (f.cos_ents + f.cos_xling) / 2.0
    close = 0.0 if f.coarse else math.exp(-f.gap_days / 3.0)
    far = min(f.gap_days, 60.0) / 30.0
    return (*content, close * agree, float(f.coarse) * agree, far, log_n)


@dataclass(frozen=True)
class Model:
    dated: tuple[float, ...]  # bias first, then FEATURES_DATED
    undated: tuple[float, ...]  # bias first, then FEATURES_UNDATED
    threshold: float  # join the best candidate when its probability reaches this

    def probability(self, f: PairFeatures) -> float:
        x = vector(f)
        w = self.undated if f.gap_days is None else self.dated
        s = 0.0  # plain left-to-right sum (``sum()`` is compensated from Python 3.12), as the
        for wi, xi in zip(w[1:], x, strict=True):  # C ``pair_scores`` adds them
            s += wi * xi
        z = w[0] + s
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


# Fitted by ``python -m newsthreads.stories.fit dev.jsonl ecbplus.jsonl`` (see README.md).
MODEL = Model(
    dated=(-1.1402, -10.8952, 7.3393, 11.4967, -10.3942, 12.763, -2.9246, 0.2124, -1.7593,
           9.9199, 4.6306, -5.2051, -0.1532),
    undated=(-1.9817, 0.3134, 5.2637, 7.9317, -7.4362, 6.7487, -3.2556, 0.6295, -0.2504,
             4.127, -0.7493),
    threshold=0.15,
)
