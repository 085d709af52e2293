-- Split repair: a small thread keeps its members' features so that it can be re-checked and
-- split when an early wrong join shows (stories/README.md, "Split repair"). One row per
-- threaded article while its thread is small (at most Params.split_max members); the rows of
-- a thread that outgrows that are deleted. Written once per article; the thread an article
-- is in is read from thread_articles, so a split only rewrites thread_articles.
-- State written before this migration has no rows: those threads are simply never split.

CREATE TABLE thread_member_features (
    article_id  bigint PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    features    jsonb NOT NULL  -- {"lang", "terms", "ents", "xling", "display", "title_terms",
                                --  "tokens", "vec", "start", "end", "title"}
);

COMMENT ON TABLE thread_member_features IS 'Features of the members of small threads, for the split repair.';
