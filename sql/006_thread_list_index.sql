-- 006: the thread list at archive scale.
-- Ordering `story_threads` to show the newest 20 aggregates every thread of the archive
-- (seconds at a million articles, past the UI's statement timeout). `newest_story_threads`
-- has the same columns, ordered newest first (by the span threading records per thread), and
-- reads them from an index: `SELECT * FROM newest_story_threads LIMIT 20 OFFSET 40` aggregates
-- only the 20 threads it shows.
CREATE INDEX threads_newest_idx ON threads (last_end DESC NULLS LAST, id DESC);

CREATE VIEW newest_story_threads AS
SELECT t.id AS thread_id, t.label, s.first_published, s.last_published_end, s.article_count,
       s.source_count, s.duplicate_count, s.languages, t.updated_at
FROM threads t
CROSS JOIN LATERAL (
    SELECT min(a.published_at) AS first_published, max(a.published_end) AS last_published_end,
           count(*) AS article_count, count(DISTINCT a.source) AS source_count,
           count(*) FILTER (WHERE ta.duplicate_of IS NOT NULL) AS duplicate_count,
           array_agg(DISTINCT a.language) FILTER (WHERE a.language IS NOT NULL) AS languages
    FROM thread_articles ta JOIN articles a ON a.id = ta.article_id
    WHERE ta.thread_id = t.id) s
WHERE s.article_count > 0
ORDER BY t.last_end DESC NULLS LAST, t.id DESC;

COMMENT ON VIEW newest_story_threads IS
    'story_threads, newest first, read from an index: use it with LIMIT/OFFSET for lists.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'news_reader') THEN
        GRANT SELECT ON newest_story_threads TO news_reader;
    END IF;
END
$$;
