-- The newest story threads with their span and size.
SELECT thread_id, label, first_published, last_published_end, article_count, source_count,
       duplicate_count, languages
FROM story_threads
ORDER BY last_published_end DESC NULLS LAST
LIMIT 20;
