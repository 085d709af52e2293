-- 0025: thread state for the fuller threading model (002 shipped with the first threading).
-- Adds what the scoring now reads: day-precise spans, language-blind word sums, languages,
-- top entities; and the date of each signature, which bounds the duplicate window.
-- Applied after 002 (the number sorts as 25); it touches only threading's own tables.
-- State written by the first model stays usable: missing sums start empty, and norm_epoch -1
-- makes every old thread recompute its norms when next compared. For exact results on old
-- data, run `newsthreads rethread` over it once.

ALTER TABLE thread_vectors
    ADD COLUMN precise_first timestamptz,   -- span of the members dated to the day or better
    ADD COLUMN precise_end   timestamptz,
    ADD COLUMN xling_tf      jsonb NOT NULL DEFAULT '{}',  -- {"~key": weight}, language-blind
    ADD COLUMN langs         jsonb NOT NULL DEFAULT '{}',  -- {"nb": 3, "en": 1}
    ADD COLUMN top_ents      text[] NOT NULL DEFAULT '{}',
    ADD COLUMN norm_xling    double precision NOT NULL DEFAULT 0,
    ADD CONSTRAINT thread_vectors_precise_ck
        CHECK ((precise_first IS NULL) = (precise_end IS NULL));

UPDATE thread_vectors SET norm_epoch = -1;

COMMENT ON COLUMN thread_vectors.keys IS 'What the thread is indexed under (GIN: the inverted index).';

-- The date interval clustering used for each article (NULL when undated or imputed): a
-- signature stays in the duplicate window while its article is recent.
ALTER TABLE article_signatures
    ADD COLUMN dated_start timestamptz,
    ADD COLUMN dated_end   timestamptz;

UPDATE article_signatures s
SET dated_start = a.published_at, dated_end = a.published_end
FROM articles a
WHERE a.id = s.article_id AND a.published_source IS DISTINCT FROM 'imputed';

CREATE INDEX article_signatures_seq_idx ON article_signatures (seq);
CREATE INDEX article_signatures_end_idx ON article_signatures (dated_end);

COMMENT ON TABLE article_signatures IS 'MinHash signature, processing sequence and date of each threaded article.';
