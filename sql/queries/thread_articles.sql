-- The articles of one thread (psql: \set thread 1), wire copies flagged.
SELECT published_at, published_end, published_precision, published_source, source, source_key,
       title, language, is_duplicate, duplicate_of_key
FROM thread_articles_v
WHERE thread_id = :thread
ORDER BY published_at NULLS LAST, article_id;
