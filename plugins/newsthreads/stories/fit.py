"""Fit the scoring model's weights and threshold on labelled data, cross-validated by story.

Run: ``python -m newsthreads.stories.fit FILE.jsonl [...]`` (prints the fitted ``Model`` and the
cross-validated figures; paste the model into ``stories/model.py``). How, in short (the long
form is in ``stories/README.md``):

1. **Teacher-forced pairs.** Each labelled file is streamed in publication order through the
   real clusterer, but every article joins its *gold* thread. For each article, every
   candidate thread the index retrieves gives one (features, same-story?) example. So the
   examples have exactly the distribution the online decision sees.
2. **Variants** of each stream make the model robust beyond the files' accidents: the real
   dates; *time-collapsed* (each story shifted to start on the same day, so different stories
   overlap in time and only content can tell them apart: no "same week ⇒ same story" shortcut);
   and *undated* (dates dropped: examples for the content-only weights).
3. **Logistic regression** (L2, Newton) on the dated and undated examples separately; every
   file weighs the same, whatever its size.
4. **Thresholds**: the dated cut maximises the mean BCubed F1 of full online runs over the
   dated files *and* the undated ones replayed as one busy day (so "published the same day"
   cannot stand in for "about the same event"); the undated cut over the undated files.
5. **Cross-validation by story**: stories (never single articles) are split into K folds;
   weights and threshold are fitted on K-1 folds and the online run is scored on the held-out
   fold's articles. The final model is fitted on everything.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from newsthreads.stories.cluster import Clusterer, Decision, Params, State
from newsthreads.stories.evaluate import Key, Prepared, bcubed, load_gold, pairwise, prepare
from newsthreads.stories.model import FEATURES_DATED, FEATURES_UNDATED, Model, vector

ANCHOR = datetime(2000, 1, 3, tzinfo=UTC)
HARD_NEGATIVES = 2


@dataclass
class Stream:
    """One labelled file, prepared once: items in order and their gold stories."""

    name: str
    prepared: list[Prepared]
    story: dict[Key, str]


def load_stream(path: str | Path) -> Stream:
    gold = load_gold([path])
    return Stream(Path(path).stem, prepare([path]), {k: g.story for k, g in gold.items()})


def subset(stream: Stream, stories: set[str], suffix: str) -> Stream:
    keep = [p for p in stream.prepared if stream.story[p.key] in stories]
    return Stream(stream.name + suffix, keep, {p.key: stream.story[p.key] for p in keep})


def collapsed(stream: Stream, spread_days: int = 0) -> list[Prepared]:
    """Every story shifted in time to start on ANCHOR (offsets within a story kept); with
    ``spread_days``, story number i (in a fixed hash order) starts i mod 4 × spread_days later,
    so similar stories meet at every distance up to three spreads."""
    first: dict[str, datetime] = {}
    for p in stream.prepared:
        if p.item.start is not None:
            s = stream.story[p.key]
            first[s] = min(first.get(s, p.item.start), p.item.start)
    out = []
    for p in stream.prepared:
        item = p.item
        if item.start is not None and item.end is not None:
            story = stream.story[p.key]
            offset = timedelta(days=spread_days * (fold_of(story, 4) if spread_days else 0))
            shift = ANCHOR + offset - first[story]
            item = replace(item, start=item.start + shift, end=item.end + shift)
        out.append(Prepared(p.key, (item.start is None, item.end or datetime.max.replace(
            tzinfo=UTC), item.start or datetime.max.replace(tzinfo=UTC), p.order[-1]), item))
    out.sort(key=lambda p: p.order)
    return out


def same_day(stream: Stream) -> list[Prepared]:
    """An undated file as if every article had been published on ANCHOR: a busy day of many
    concurrent stories, where only content can tell them apart."""
    day = (ANCHOR, ANCHOR + timedelta(days=1))
    out = [Prepared(p.key, (False, day[1], day[0], p.order[-1]),
                    replace(p.item, start=day[0], end=day[1])) for p in stream.prepared]
    out.sort(key=lambda p: p.order)
    return out


def undated(stream: Stream) -> list[Prepared]:
    out = [Prepared(p.key, (True, p.order[-1]), replace(p.item, start=None, end=None))
           for p in stream.prepared]
    out.sort(key=lambda p: p.order)
    return out


def teacher_pairs(prepared: Sequence[Prepared], story: dict[Key, str],
                  params: Params) -> tuple[list[tuple[tuple[float, ...], int, bool]], float]:
    """(feature vector, same story?, dated?) for every retrieved candidate, each article then
    joining its gold thread; also the share of articles whose gold thread was retrieved."""
    # Every article joins its gold thread: no split repair rewrites what the teacher decided.
    clusterer = Clusterer(State(), params=replace(params, split_max=0))
    thread_of: dict[str, int] = {}
    rows = []
    found = needed = 0
    for p in prepared:
        item = p.item
        query = clusterer.begin(item)
        weighted = clusterer.weighted(item)
        gold_thread = thread_of.get(story[p.key])
        hit = False
        negatives = []
        for thread in clusterer.shortlist(item, clusterer.candidates(item, query), weighted):
            f = clusterer.pair(item, thread, weighted)
            if thread.id == gold_thread:
                hit = True
                rows.append((vector(f), 1, f.gap_days is not None))
            else:
                negatives.append((-(f.cos_text + f.cos_ents + f.cos_xling), thread.id, f))
        # Only the hardest wrong candidates matter to the decision; the easy mass would
        # teach the model nothing but to say no.
        for _, _, f in sorted(negatives, key=lambda n: n[:2])[:HARD_NEGATIVES]:
            rows.append((vector(f), 0, f.gap_days is not None))
        if gold_thread is not None:
            needed += 1
            found += hit
        else:
            gold_thread = thread_of[story[p.key]] = clusterer.new_thread().id
        clusterer.finish(item, Decision(item.article_id, gold_thread, False))
    return rows, (found / needed if needed else 1.0)


def logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1e-2) -> np.ndarray:
    """Weighted L2-regularised logistic regression by Newton's method; bias first."""
    x1 = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(x1.shape[1])
    reg = np.full(x1.shape[1], l2)
    reg[0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x1 @ beta, -30, 30)))
        grad = x1.T @ (w * (p - y)) + reg * beta
        hess = (x1 * (w * p * (1 - p))[:, None]).T @ x1 + np.diag(reg) + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def fit_weights(streams: Sequence[Stream], params: Params) -> tuple[tuple[float, ...],
                                                                    tuple[float, ...]]:
    dated: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    plain: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for stream in streams:
        has_dates = any(p.item.start is not None for p in stream.prepared)
        variants = [undated(stream)]
        if has_dates:
            variants += [stream.prepared, collapsed(stream), collapsed(stream, 12)]
        else:
            variants += [same_day(stream)]
        for variant in variants:
            rows, _ = teacher_pairs(variant, stream.story, params)
            for is_dated, bucket in ((True, dated), (False, plain)):
                sel = [(v, y) for v, y, d in rows if d == is_dated]
                if not sel:
                    continue
                x = np.array([v for v, _ in sel], dtype=float)
                y = np.array([y for _, y in sel], dtype=float)
                # Each (file, variant) weighs the same; within it, classes are balanced.
                pos = max(1.0, y.sum())
                neg = max(1.0, len(y) - y.sum())
                w = np.where(y > 0, 0.5 / pos, 0.5 / neg)
                bucket.append((x, y, w))
    w_dated = _fit_bucket(dated, len(FEATURES_DATED))
    w_plain = _fit_bucket(plain, len(FEATURES_UNDATED))
    return w_dated, w_plain


def _fit_bucket(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                n: int) -> tuple[float, ...]:
    if not parts:
        return tuple([0.0] * (n + 1))
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    w = np.concatenate([p[2] for p in parts]) * len(y) / len(parts)
    return tuple(round(float(b), 4) for b in logistic(x, y, w))


def run(stream: Stream, model: Model, params: Params) -> dict[Key, int]:
    clusterer = Clusterer(State(), params=params, model=model)
    pred = {p.key: clusterer.assign(p.item).thread_id for p in stream.prepared}
    key_of = {p.item.article_id: p.key for p in stream.prepared}
    for article_id, thread_id in clusterer.moves.items():  # members a split moved
        pred[key_of[article_id]] = thread_id
    return pred


def choose_threshold(streams: Sequence[Stream], model: Model, params: Params,
                     grid: Sequence[float]) -> tuple[float, float]:
    best = (-1.0, 0.5)
    for t in grid:
        m = replace(model, threshold=t)
        score = float(np.mean([bcubed(s.story, run(s, m, params)).f1 for s in streams]))
        if score > best[0] + 1e-9:
            best = (score, t)
    return best[1], best[0]


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def fold_of(story: str, k: int) -> int:
    return int(hashlib.sha1(story.encode()).hexdigest(), 16) % k


GRID = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)


def fit(streams: Sequence[Stream], params: Params,
        grid: Sequence[float] = GRID) -> tuple[Model, float]:
    """Weights on all streams; the dated cut on the dated streams, the undated cut on the
    natively undated ones (or, when there are none, the dated ones with dates dropped), both
    folded into the single threshold by shifting the undated bias."""
    w_dated, w_plain = fit_weights(streams, params)
    model = Model(dated=w_dated, undated=w_plain, threshold=0.5)
    dated = [s for s in streams if any(p.item.start is not None for p in s.prepared)]
    plain = [s for s in streams if s not in dated] or [
        Stream(s.name + "-undated", undated(s), s.story) for s in streams]
    # The dated cut must also hold on a busy day: undated files replayed as one day's news.
    dated = dated + [Stream(s.name + "-same-day", same_day(s), s.story) for s in plain
                     if not s.name.endswith("-undated")]
    t_dated, score_dated = choose_threshold(dated, model, params, grid) if dated else (0.5, 0)
    t_plain, score_plain = choose_threshold(plain, model, params, grid)
    shift = _logit(t_dated) - _logit(t_plain)
    w_plain = (round(w_plain[0] + shift, 4), *w_plain[1:])
    model = Model(dated=w_dated, undated=w_plain, threshold=t_dated)
    return model, float(np.mean([score_dated, score_plain]))


def cross_validate(streams: Sequence[Stream], params: Params, k: int = 4,
                   grid: Sequence[float] = GRID, out=sys.stdout) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    for fold in range(k):
        train, test = [], []
        for s in streams:
            stories = set(s.story.values())
            held = {st for st in stories if fold_of(st, k) == fold}
            train.append(subset(s, stories - held, f"-train{fold}"))
            test.append(subset(s, held, f"-test{fold}"))
        model, _ = fit(train, params, grid)
        for s in test:
            pred = run(s, model, params)
            b, pw = bcubed(s.story, pred), pairwise(s.story, pred)
            name = s.name.rsplit("-test", 1)[0]
            results.setdefault(f"{name} bcubed", []).append(b.f1)
            results.setdefault(f"{name} pairwise", []).append(pw.f1)
            print(f"fold {fold} {name}: BCubed {b}  pairwise {pw}  "
                  f"threshold {model.threshold}", file=out)
    for name, values in results.items():
        print(f"CV {name}: mean F1 {np.mean(values):.3f} (folds "
              + ", ".join(f"{v:.3f}" for v in values) + ")", file=out)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--no-cv", action="store_true")
    args = parser.parse_args(argv)
    params = Params()
    streams = [load_stream(f) for f in args.files]
    for s in streams:
        _, recall = teacher_pairs(s.prepared, s.story, params)
        print(f"{s.name}: gold thread among candidates for {recall:.3f} of articles")
    if not args.no_cv:
        cross_validate(streams, params, k=args.folds)
    model, score = fit(streams, params)
    print(f"final (fitted on all): mean BCubed F1 {score:.3f}")
    for s in streams:
        pred = run(s, model, params)
        print(f"  {s.name}: BCubed {bcubed(s.story, pred)}  pairwise {pairwise(s.story, pred)}")
    print(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
