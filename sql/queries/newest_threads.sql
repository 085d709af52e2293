-- The newest story threads with their span and size.
-- Picks the 20 threads from the index on threads.last_end first and aggregates only those;
-- `SELECT ... FROM story_threads ORDER BY last_published_end DESC LIMIT 20` gives the same rows
-- but aggregates the whole archive to find them.
SELECT t.id AS thread_id, t.label, s.first_published, s.last_published_end, s.article_count,
       s.source_count, s.duplicate_count, s.languages
FROM (SELECT id, label, last_end FROM threads
      ORDER BY last_end DESC NULLS LAST, id DESC LIMIT 20) t
CROSS JOIN LATERAL (
    SELECT min(a.published_at) AS first_published, max(a.published_end) AS last_published_end,
           count(*) AS article_count, count(DISTINCT a.source) AS source_count,
           count(*) FILTER (WHERE ta.duplicate_of IS NOT NULL) AS duplicate_count,
           array_agg(DISTINCT a.language) FILTER (WHERE a.language IS NOT NULL) AS languages
    FROM thread_articles ta JOIN articles a ON a.id = ta.article_id
    WHERE ta.thread_id = t.id) s
WHERE s.article_count > 0
ORDER BY t.last_end DESC NULLS LAST, t.id DESC;
