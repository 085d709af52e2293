-- The newest story threads with their span and size (the view reads an index, so this stays
-- fast on a large archive; ordering `story_threads` itself aggregates every thread first).
SELECT thread_id, label, first_published, last_published_end, article_count, source_count,
       duplicate_count, languages
FROM newest_story_threads
LIMIT 20;
