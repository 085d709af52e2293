-- 002: the state incremental story threading keeps between runs.
-- With it, each run continues where the last one stopped, and a run after a restart makes the
-- same decisions as one long run (see plugins/newsthreads/stories/README.md).

-- Counters of the stream: documents counted in thread_term_df, the processing sequence number,
-- and the high-water mark (latest article start processed).
CREATE TABLE thread_state (
    id          smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    n_docs      bigint NOT NULL DEFAULT 0,
    seq         bigint NOT NULL DEFAULT 0,
    hwm         timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO thread_state (id) VALUES (1);

COMMENT ON TABLE thread_state IS 'One row: how far story threading has got (documents, sequence, high-water mark).';

-- Document frequencies, kept incrementally: stems as they are, entities prefixed with '@'.
CREATE TABLE thread_term_df (
    term  text PRIMARY KEY,
    df    integer NOT NULL CHECK (df >= 0)
);

-- Per thread: sums of its members' unit TF vectors (IDF is applied when comparing), its
-- index keys, its span and the cached norms. GIN on keys is the inverted index used to bring
-- back the threads a late article may join.
CREATE TABLE thread_vectors (
    thread_id    bigint PRIMARY KEY REFERENCES threads(id) ON DELETE CASCADE,
    created_seq  bigint NOT NULL,
    last_seq     bigint NOT NULL,
    n            integer NOT NULL,
    first_at     timestamptz,           -- span of the dated (not imputed) members
    last_end     timestamptz,
    text_tf      jsonb NOT NULL,        -- {stem: weight}
    ents_tf      jsonb NOT NULL,        -- {"@entity": weight}
    display      jsonb NOT NULL DEFAULT '{}',  -- {"@entity": "Surface form"} for labels
    keys         text[] NOT NULL,
    norm_text    double precision NOT NULL,
    norm_ents    double precision NOT NULL,
    norm_epoch   integer NOT NULL,
    title        text,                  -- the most central title so far
    title_terms  text[] NOT NULL DEFAULT '{}',
    CONSTRAINT thread_vectors_span_ck CHECK ((first_at IS NULL) = (last_end IS NULL))
);
CREATE INDEX thread_vectors_last_end_idx ON thread_vectors (last_end);
CREATE INDEX thread_vectors_last_seq_idx ON thread_vectors (last_seq);
CREATE INDEX thread_vectors_keys_idx ON thread_vectors USING gin (keys);

COMMENT ON TABLE thread_vectors IS 'Running state of each story thread for incremental clustering.';

-- Per threaded article: when it was processed and its MinHash signature (near-duplicates).
-- A row here also means the article is counted in thread_term_df.
CREATE TABLE article_signatures (
    article_id  bigint PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    minhash     bytea,                  -- 128 x uint32; NULL for texts without shingles
    shingles    integer NOT NULL
);

COMMENT ON TABLE article_signatures IS 'MinHash signature and processing sequence of each threaded article.';

-- Undated articles whose date is imputed from their thread are found through this index.
CREATE INDEX articles_imputed_idx ON articles (id) WHERE published_source = 'imputed';
