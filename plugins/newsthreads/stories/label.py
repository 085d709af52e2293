"""Readable thread labels: the leading entities and the most central title.

"Putin, Kim, Vladivostok — Putin og Kim innleder møtet i Vladivostok" tells a reader which
event a thread is about faster than any single headline: names say who, the title says what.
"""

from __future__ import annotations

from newsthreads.stories.analyse import ENTITY_PREFIX
from newsthreads.stories.cluster import Thread

MAX_LABEL = 200


def top_entities(thread: Thread, k: int = 3) -> list[str]:
    """Surface forms of the thread's k heaviest entity names (weight × IDF, ties by key):
    the head of ``thread.top_ents``, which the clusterer keeps with the thread's index keys.
    A function of the articles joined, not of when a batch happened to be saved."""
    names: list[str] = []
    for key in thread.top_ents:
        if len(names) == k:
            break
        name = thread.display.get(key, key.removeprefix(ENTITY_PREFIX))
        if name.casefold() not in (n.casefold() for n in names):
            names.append(name)
    return names


def thread_label(thread: Thread) -> str:
    names = ", ".join(top_entities(thread))
    title = (thread.title or "").strip()
    label = f"{names} — {title}" if names and title else names or title
    return label[:MAX_LABEL]
