"""How good the threads are: pairwise and BCubed P/R/F1 against labelled JSONL.

Labelled files are the ``ingest-jsonl`` shape plus ``story`` (see
``../shared/eval/threads/README.md``). :func:`evaluate_db` runs the real pipeline (ingest,
normalise, store, ``cluster_pending``) into a throwaway database; :func:`evaluate_in_memory`
runs the same normalisation and clustering code without a database, for fast tuning.
An article missing from the output counts as a thread of its own.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Key = tuple[str, str]  # (source, id)


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __str__(self) -> str:
        return f"P {self.precision:.3f}  R {self.recall:.3f}  F1 {self.f1:.3f}"


@dataclass(frozen=True)
class Gold:
    story: str
    lang: str
    duplicate_of: str | None = None  # when the labelled file says so


def load_gold(paths: Iterable[str | Path]) -> dict[Key, Gold]:
    """Gold labels from labelled JSONL files, keyed like the pipeline keys articles."""
    gold: dict[Key, Gold] = {}
    for path in paths:
        path = Path(path)
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                obj = json.loads(line)
                source = str(obj.get("source") or path.stem)
                gold[(source, str(obj["id"]))] = Gold(
                    str(obj["story"]), str(obj.get("lang") or "und"),
                    obj.get("duplicate_of"))
    return gold


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _contingency(gold: dict[Key, str], pred: dict[Key, Any]
                 ) -> tuple[Counter[tuple[str, Any]], Counter[str], Counter[Any]]:
    """Counts per (story, thread), per story and per thread; a missing article is alone."""
    both: Counter[tuple[str, Any]] = Counter()
    g: Counter[str] = Counter()
    p: Counter[Any] = Counter()
    for key, story in gold.items():
        thread = pred.get(key, ("alone", key))
        both[(story, thread)] += 1
        g[story] += 1
        p[thread] += 1
    return both, g, p


def pairwise(gold: dict[Key, str], pred: dict[Key, Any]) -> PRF:
    """Precision/recall over all pairs of articles put (or labelled) together."""
    both, g, p = _contingency(gold, pred)
    tp = sum(_pairs(n) for n in both.values())
    pp = sum(_pairs(n) for n in p.values())
    gp = sum(_pairs(n) for n in g.values())
    return PRF(tp / pp if pp else 1.0, tp / gp if gp else 1.0)


def bcubed(gold: dict[Key, str], pred: dict[Key, Any]) -> PRF:
    """BCubed: per article, the share of its thread that shares its story and vice versa."""
    both, g, p = _contingency(gold, pred)
    n = len(gold)
    if not n:
        return PRF(1.0, 1.0)
    precision = sum(c * c / p[t] for (s, t), c in both.items()) / n
    recall = sum(c * c / g[s] for (s, t), c in both.items()) / n
    return PRF(precision, recall)


def cross_pairs(gold: dict[Key, str], pred: dict[Key, Any], lang: dict[Key, str],
                a: set[str], b: set[str]) -> PRF:
    """Pairwise P/R restricted to pairs with one article in languages ``a``, one in ``b``."""
    tp = pp = gp = 0
    cell: Counter[tuple[str, Any, bool]] = Counter()
    for key, story in gold.items():
        side = lang[key] in a
        if side or lang[key] in b:
            cell[(story, pred.get(key, ("alone", key)), side)] += 1
    by_story: Counter[tuple[str, bool]] = Counter()
    by_thread: Counter[tuple[Any, bool]] = Counter()
    for (story, thread, side), c in cell.items():
        by_story[(story, side)] += c
        by_thread[(thread, side)] += c
    for (story, thread, side), c in cell.items():
        if side:
            tp += c * cell.get((story, thread, False), 0)
    for (story, side), c in by_story.items():
        if side:
            gp += c * by_story.get((story, False), 0)
    for (thread, side), c in by_thread.items():
        if side:
            pp += c * by_thread.get((thread, False), 0)
    return PRF(tp / pp if pp else 1.0, tp / gp if gp else 1.0)


@dataclass
class Report:
    """Everything ``newsthreads eval`` prints."""

    name: str
    articles: int
    stories: int
    threads: int
    pairwise: PRF
    bcubed: PRF
    per_language: dict[str, PRF]
    cross_language: dict[str, PRF]
    duplicates: dict[str, Any]
    worst_merges: list[dict[str, Any]]
    worst_splits: list[dict[str, Any]]
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def format(self) -> str:
        lines = [f"== {self.name}: {self.articles} articles, {self.stories} stories, "
                 f"{self.threads} threads ({self.seconds:.1f}s)",
                 f"pairwise  {self.pairwise}",
                 f"BCubed    {self.bcubed}"]
        lines.append("per language (BCubed within the language's articles):")
        for lang, prf in self.per_language.items():
            lines.append(f"  {lang:<6} {prf}")
        if self.cross_language:
            lines.append("cross-language pairs (pairwise):")
            for name, prf in self.cross_language.items():
                lines.append(f"  {name:<10} {prf}")
        d = self.duplicates
        lines.append(f"duplicates: {d['predicted']} marked; " + (
            f"precision {d['precision']:.3f} recall {d['recall']:.3f} (gold labels)"
            if d.get("recall") is not None else
            f"{d['same_story']} within one gold story (precision ≥ {d['precision']:.3f}); "
            "no gold duplicate labels, recall not measurable"))
        if self.worst_merges:
            lines.append("worst merges (wrong pairs: stories in one thread):")
            for m in self.worst_merges:
                lines.append(f"  thread {m['thread']}: {m['wrong_pairs']} wrong pairs: "
                             + ", ".join(f"{s}×{c}" for s, c in m["stories"]))
        if self.worst_splits:
            lines.append("worst splits (missed pairs: a story over several threads):")
            for s in self.worst_splits:
                lines.append(f"  {s['story']}: {s['missed_pairs']} missed pairs over "
                             f"{len(s['threads'])} threads: "
                             + ", ".join(str(c) for _, c in s["threads"]))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        def prf(x: PRF) -> dict[str, float]:
            return {"precision": round(x.precision, 4), "recall": round(x.recall, 4),
                    "f1": round(x.f1, 4)}
        return {"name": self.name, "articles": self.articles, "stories": self.stories,
                "threads": self.threads, "pairwise": prf(self.pairwise),
                "bcubed": prf(self.bcubed),
                "per_language": {k: prf(v) for k, v in self.per_language.items()},
                "cross_language": {k: prf(v) for k, v in self.cross_language.items()},
                "duplicates": self.duplicates, "worst_merges": self.worst_merges,
                "worst_splits": self.worst_splits, "seconds": round(self.seconds, 2)}


NORWEGIAN = {"nb", "nn", "no"}


def report(name: str, gold: dict[Key, Gold], pred: dict[Key, Any],
           dup_of: dict[Key, Key | None], *, worst: int = 5) -> Report:
    """Score predicted threads (``pred``: key → thread) and duplicates against gold."""
    stories = {k: g.story for k, g in gold.items()}
    langs = {k: g.lang for k, g in gold.items()}
    per_lang: dict[str, PRF] = {}
    for lang, _ in Counter(langs.values()).most_common():
        sub = {k: s for k, s in stories.items() if langs[k] == lang}
        if len(sub) >= 5:
            per_lang[lang] = bcubed(sub, pred)
    cross: dict[str, PRF] = {}
    present = set(langs.values())
    if present & NORWEGIAN and "en" in present:
        cross["no–en"] = cross_pairs(stories, pred, langs, NORWEGIAN, {"en"})
    if present & NORWEGIAN and len(present - NORWEGIAN) > 0:
        cross["no–other"] = cross_pairs(stories, pred, langs, NORWEGIAN, present - NORWEGIAN)
    if len(present) > 1:
        other = {lang for lang in present if lang != "en"}
        cross["en–other"] = cross_pairs(stories, pred, langs, {"en"}, other)
    return Report(
        name=name, articles=len(gold), stories=len(set(stories.values())),
        threads=len({pred.get(k, ("alone", k)) for k in gold}),
        pairwise=pairwise(stories, pred), bcubed=bcubed(stories, pred),
        per_language=per_lang, cross_language=cross,
        duplicates=_duplicates(gold, dup_of),
        worst_merges=_worst_merges(stories, pred, worst),
        worst_splits=_worst_splits(stories, pred, worst))


def _duplicates(gold: dict[Key, Gold], dup_of: dict[Key, Key | None]) -> dict[str, Any]:
    predicted = {(k, v) for k, v in dup_of.items() if v is not None and k in gold}
    same = sum(1 for k, v in predicted if v in gold and gold[k].story == gold[v].story)
    has_gold = any(g.duplicate_of for g in gold.values())
    out: dict[str, Any] = {"predicted": len(predicted), "same_story": same,
                           "precision": same / len(predicted) if predicted else 1.0,
                           "recall": None}
    if has_gold:
        # Gold says which article each copy copies; compare as unordered groups of copies.
        def groups(edges: Iterable[tuple[Key, Key]]) -> set[frozenset[Key]]:
            return {frozenset((a, b)) for a, b in edges}
        gold_edges = groups((k, (k[0], g.duplicate_of)) for k, g in gold.items()
                            if g.duplicate_of)
        pred_edges = groups(predicted)
        tp = len(gold_edges & pred_edges)
        out["precision"] = tp / len(pred_edges) if pred_edges else 1.0
        out["recall"] = tp / len(gold_edges) if gold_edges else 1.0
    return out


def _worst_merges(stories: dict[Key, str], pred: dict[Key, Any],
                  k: int) -> list[dict[str, Any]]:
    by_thread: dict[Any, Counter[str]] = defaultdict(Counter)
    for key, story in stories.items():
        by_thread[pred.get(key, ("alone", key))][story] += 1
    rows = []
    for thread, counts in by_thread.items():
        total = sum(counts.values())
        wrong = _pairs(total) - sum(_pairs(c) for c in counts.values())
        if wrong:
            rows.append({"thread": str(thread), "wrong_pairs": wrong,
                         "stories": counts.most_common()})
    rows.sort(key=lambda r: (-r["wrong_pairs"], r["thread"]))
    return rows[:k]


def _worst_splits(stories: dict[Key, str], pred: dict[Key, Any],
                  k: int) -> list[dict[str, Any]]:
    by_story: dict[str, Counter[Any]] = defaultdict(Counter)
    for key, story in stories.items():
        by_story[story][str(pred.get(key, ("alone", key)))] += 1
    rows = []
    for story, counts in by_story.items():
        total = sum(counts.values())
        missed = _pairs(total) - sum(_pairs(c) for c in counts.values())
        if missed:
            rows.append({"story": story, "missed_pairs": missed,
                         "threads": counts.most_common()})
    rows.sort(key=lambda r: (-r["missed_pairs"], r["story"]))
    return rows[:k]


# -- running the pipeline -----------------------------------------------------------------------

@dataclass
class Prepared:
    """A labelled article made ready for clustering, in the order the database would use."""

    key: Key
    order: tuple
    item: Any  # stories.cluster.Item


def prepare(paths: Sequence[str | Path]) -> list[Prepared]:
    """Read labelled JSONL through the real reader and normaliser, then make cluster items,
    sorted as ``cluster_pending`` sorts (dated by end, start; undated last; then file order)."""
    from newsthreads.normalise.article import normalise_item
    from newsthreads.sources.jsonl import iter_jsonl
    from newsthreads.stories.items import item_from_fields

    now = datetime.now(UTC)
    out: list[Prepared] = []
    seen: set[Key] = set()
    n = 0
    for path in paths:
        for raw in iter_jsonl(path):
            if isinstance(raw, Exception):
                continue
            article = normalise_item(raw, now=now)
            key = (article.source, article.source_key)
            if key in seen:
                continue
            seen.add(key)
            n += 1
            pub = article.published
            item = item_from_fields(n, title=article.title, lead=article.lead,
                                    body=article.body, language=article.language,
                                    start=pub.start if pub else None,
                                    end=pub.end if pub else None)
            order = (pub is None, pub.end if pub else datetime.max.replace(tzinfo=UTC),
                     pub.start if pub else datetime.max.replace(tzinfo=UTC), n)
            out.append(Prepared(key, order, item))
    out.sort(key=lambda p: p.order)
    return out


def cluster_prepared(prepared: Sequence[Prepared], *, params: Any = None,
                     model: Any = None) -> tuple[dict[Key, int], dict[Key, Key | None]]:
    """Run the online clusterer over prepared items in memory."""
    from newsthreads.stories.cluster import Clusterer, State

    clusterer = Clusterer(State(), params=params, model=model)
    by_id = {p.item.article_id: p.key for p in prepared}
    pred: dict[Key, int] = {}
    dup_of: dict[Key, Key | None] = {}
    for p in prepared:
        decision = clusterer.assign(p.item)
        pred[p.key] = decision.thread_id
        dup_of[p.key] = by_id[decision.duplicate_of] if decision.duplicate_of else None
    for article_id, thread_id in clusterer.moves.items():  # members a split moved
        pred[by_id[article_id]] = thread_id
    return pred, dup_of


def evaluate_in_memory(paths: Sequence[str | Path], *, params: Any = None, model: Any = None,
                       name: str | None = None) -> Report:
    import time

    began = time.perf_counter()
    gold = load_gold(paths)
    pred, dup_of = cluster_prepared(prepare(paths), params=params, model=model)
    rep = report(name or ", ".join(Path(p).name for p in paths), gold, pred, dup_of)
    rep.seconds = time.perf_counter() - began
    return rep


def evaluate_db(paths: Sequence[str | Path], admin_url: str, *, params: Any = None,
                model: Any = None, name: str | None = None, keep: bool = False) -> Report:
    """Create a throwaway database, migrate, ``ingest_jsonl`` the files, ``cluster_pending``,
    read the assignments back and score them; the database is dropped afterwards."""
    import time

    import psycopg

    from newsthreads.pipeline import ingest_jsonl
    from newsthreads.store.export import export_assignments
    from newsthreads.store.scratch import scratch_database
    from newsthreads.stories.service import cluster_pending

    began = time.perf_counter()
    gold = load_gold(paths)
    with scratch_database(admin_url, "newsthreads_eval", keep=keep) as url, \
            psycopg.connect(url) as conn:
        ingest_jsonl(conn, list(paths))
        cluster_pending(conn, params=params, model=model)
        rows = export_assignments(conn)
    pred = {(r["source"], r["id"]): r["thread"] for r in rows if r["thread"] is not None}
    by_id = {r["id"]: (r["source"], r["id"]) for r in rows}  # the export names copies by id
    dup_of = {(r["source"], r["id"]): by_id.get(r["duplicate_of"]) if r["duplicate_of"]
              else None for r in rows}
    rep = report(name or ", ".join(Path(p).name for p in paths), gold, pred, dup_of)
    rep.seconds = time.perf_counter() - began
    return rep
