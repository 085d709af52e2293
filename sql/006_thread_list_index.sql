-- 006: the thread list at archive scale.
-- `story_threads` aggregates every thread's articles; sorting that view to show the newest 25
-- reads the whole archive (seconds at a million articles, past the UI's statement timeout).
-- The list now picks the page of threads from this index on the span threading records for
-- each thread, then aggregates only those (see store/reads.py, sql/queries/newest_threads.sql).
CREATE INDEX threads_newest_idx ON threads (last_end DESC NULLS LAST, id DESC);
