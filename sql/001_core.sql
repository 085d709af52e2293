-- 001: articles, their versions, threads, and the run log.
-- Shipped migrations are never edited: add a new numbered file instead.

CREATE OR REPLACE FUNCTION news_ts_config(lang text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN lang IN ('nb', 'nn', 'no') THEN 'pg_catalog.norwegian'::regconfig
        WHEN lang = 'en' THEN 'pg_catalog.english'::regconfig
        WHEN lang = 'da' THEN 'pg_catalog.danish'::regconfig
        WHEN lang = 'sv' THEN 'pg_catalog.swedish'::regconfig
        WHEN lang = 'de' THEN 'pg_catalog.german'::regconfig
        WHEN lang = 'nl' THEN 'pg_catalog.dutch'::regconfig
        WHEN lang = 'fr' THEN 'pg_catalog.french'::regconfig
        WHEN lang = 'es' THEN 'pg_catalog.spanish'::regconfig
        WHEN lang = 'it' THEN 'pg_catalog.italian'::regconfig
        ELSE 'pg_catalog.simple'::regconfig
    END
$$;

COMMENT ON FUNCTION news_ts_config(text) IS
    'Text search configuration for an ISO 639-1 language code; simple for unknown languages.';

CREATE TABLE ingest_runs (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL,                 -- files | jsonl | feeds | cluster | rethread
    params        jsonb NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'ok', 'partial', 'failed')),
    items_read    integer NOT NULL DEFAULT 0,
    items_new     integer NOT NULL DEFAULT 0,
    items_updated integer NOT NULL DEFAULT 0,
    items_unchanged integer NOT NULL DEFAULT 0,
    items_failed  integer NOT NULL DEFAULT 0,
    duplicates    integer NOT NULL DEFAULT 0,
    warnings      integer NOT NULL DEFAULT 0
);

CREATE TABLE ingest_errors (
    id          bigserial PRIMARY KEY,
    run_id      bigint REFERENCES ingest_runs(id) ON DELETE SET NULL,
    severity    text NOT NULL CHECK (severity IN ('error', 'warning')),
    input       text NOT NULL,                   -- path, URL or source/key
    line        integer,
    item_key    text,
    reason      text NOT NULL,
    raw         bytea,                           -- the input as read, for replay (capped)
    raw_truncated boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingest_errors_run_idx ON ingest_errors (run_id);
CREATE INDEX ingest_errors_input_idx ON ingest_errors (input);

CREATE TABLE articles (
    id                  bigserial PRIMARY KEY,
    source              text NOT NULL,
    source_key          text NOT NULL,
    url                 text,
    canonical_url       text,
    title               text,
    lead                text,
    body                text NOT NULL,
    section             text,
    kicker              text,
    subheadings         text[] NOT NULL DEFAULT '{}',
    captions            text[] NOT NULL DEFAULT '{}',
    credits             text[] NOT NULL DEFAULT '{}',
    agency              text,
    authors             text[] NOT NULL DEFAULT '{}',
    categories          text[] NOT NULL DEFAULT '{}',
    language            text,
    published_at        timestamptz,             -- start of the interval, UTC
    published_end       timestamptz,             -- end of the interval (exclusive)
    published_precision text CHECK (published_precision IN ('year', 'month', 'day', 'minute', 'second')),
    published_source    text CHECK (published_source IN ('feed', 'text', 'header', 'imputed', 'fetched')),
    published_raw       text,                    -- what the input said, even when unreadable
    published_note      text,                    -- why a date was dropped, clamped or imputed
    content_hash        text NOT NULL,
    version             integer NOT NULL DEFAULT 1,
    html                text,
    raw                 jsonb NOT NULL DEFAULT '{}',
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    last_run_id         bigint REFERENCES ingest_runs(id) ON DELETE SET NULL,
    search              tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector(news_ts_config(language), coalesce(title, '')), 'A')
        || setweight(to_tsvector(news_ts_config(language), coalesce(lead, '')), 'B')
        || setweight(to_tsvector(news_ts_config(language), body), 'C')
    ) STORED,
    CONSTRAINT articles_source_key_uniq UNIQUE (source, source_key),
    CONSTRAINT articles_interval_ck CHECK (
        (published_at IS NULL) = (published_end IS NULL)
        AND (published_at IS NULL OR published_end > published_at))
);
CREATE INDEX articles_search_idx ON articles USING gin (search);
CREATE INDEX articles_published_idx ON articles (published_at);

COMMENT ON TABLE articles IS 'One row per story item per source; edits become article_versions rows.';
COMMENT ON COLUMN articles.published_precision IS 'How precise published_at is: a month date is [published_at, published_end).';

CREATE TABLE article_versions (
    article_id    bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    version       integer NOT NULL,
    content_hash  text NOT NULL,
    title         text,
    lead          text,
    body          text NOT NULL,
    raw           jsonb NOT NULL DEFAULT '{}',
    valid_from    timestamptz NOT NULL,
    valid_until   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, version)
);

CREATE TABLE threads (
    id           bigserial PRIMARY KEY,
    label        text NOT NULL DEFAULT '',
    first_at     timestamptz,
    last_end     timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE thread_articles (
    article_id    bigint PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    thread_id     bigint NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    score         real,
    duplicate_of  bigint REFERENCES articles(id) ON DELETE SET NULL,
    assigned_at   timestamptz NOT NULL DEFAULT now(),
    run_id        bigint REFERENCES ingest_runs(id) ON DELETE SET NULL,
    CONSTRAINT thread_articles_not_self_dup CHECK (duplicate_of IS DISTINCT FROM article_id)
);
CREATE INDEX thread_articles_thread_idx ON thread_articles (thread_id);

CREATE VIEW thread_articles_v AS
SELECT ta.thread_id,
       t.label                  AS thread_label,
       a.id                     AS article_id,
       a.source,
       a.source_key,
       a.title,
       a.language,
       a.published_at,
       a.published_end,
       a.published_precision,
       a.published_source,
       a.agency,
       a.url,
       ta.duplicate_of IS NOT NULL AS is_duplicate,
       ta.duplicate_of          AS duplicate_of_article_id,
       d.source_key             AS duplicate_of_key,
       ta.score
FROM thread_articles ta
JOIN threads t ON t.id = ta.thread_id
JOIN articles a ON a.id = ta.article_id
LEFT JOIN articles d ON d.id = ta.duplicate_of;

COMMENT ON VIEW thread_articles_v IS 'Every threaded article with its thread, date interval, source and duplicate flag.';

CREATE VIEW story_threads AS
SELECT t.id                                       AS thread_id,
       t.label,
       min(a.published_at)                        AS first_published,
       max(a.published_end)                       AS last_published_end,
       count(*)                                   AS article_count,
       count(DISTINCT a.source)                   AS source_count,
       count(*) FILTER (WHERE ta.duplicate_of IS NOT NULL) AS duplicate_count,
       array_agg(DISTINCT a.language) FILTER (WHERE a.language IS NOT NULL) AS languages,
       t.updated_at
FROM threads t
JOIN thread_articles ta ON ta.thread_id = t.id
JOIN articles a ON a.id = ta.article_id
GROUP BY t.id, t.label, t.updated_at;

COMMENT ON VIEW story_threads IS 'One row per story thread: label, date span, article, source and duplicate counts.';
