"""Readable thread labels: the leading entities and the most central title.

"Putin, Kim, Vladivostok — Putin og Kim innleder møtet i Vladivostok" tells a reader which
event a thread is about faster than any single headline: names say who, the title says what.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from newsthreads.stories.analyse import ENTITY_PREFIX
from newsthreads.stories.cluster import NUMBER_KEY, Thread

MAX_LABEL = 200


def top_entities(thread: Thread, idf: Callable[[str], float], k: int = 3) -> list[str]:
    """Surface forms of the thread's k heaviest entities (weight × IDF, ties by key)."""
    best = heapq.nsmallest(k, ((-w * idf(t), t) for t, w in thread.ents.items()
                               if not t.startswith(NUMBER_KEY)))
    names: list[str] = []
    for _, key in best:
        name = thread.display.get(key, key.removeprefix(ENTITY_PREFIX))
        if name.casefold() not in (n.casefold() for n in names):
            names.append(name)
    return names


def thread_label(thread: Thread, idf: Callable[[str], float]) -> str:
    names = ", ".join(top_entities(thread, idf))
    title = (thread.title or "").strip()
    label = f"{names} — {title}" if names and title else names or title
    return label[:MAX_LABEL]
