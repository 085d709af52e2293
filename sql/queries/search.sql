-- Full-text search over articles, in Norwegian (psql: \set q '''sanksjoner Nord-Korea''').
-- Use 'english' for English articles, or news_ts_config(language) per row.
SELECT a.id, a.source, a.source_key, a.title, ta.thread_id, ts_rank(a.search, q) AS rank
FROM articles a
CROSS JOIN websearch_to_tsquery('norwegian', :q) AS q
LEFT JOIN thread_articles ta ON ta.article_id = a.id
WHERE a.search @@ q
ORDER BY rank DESC
LIMIT 20;
