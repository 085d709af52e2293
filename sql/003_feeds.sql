-- 003: the feed registry: what to poll, when, and how each feed has behaved.
-- A failing feed backs off (next_fetch_at, consecutive_failures) but is never disabled silently:
-- only an HTTP 410 retires it, with the reason in disabled_reason, and `feeds add` revives it.

CREATE TABLE feeds (
    id                   bigserial PRIMARY KEY,
    url                  text NOT NULL,                -- fetched; moved by 301/308
    source               text NOT NULL,                -- articles.source of its entries; stable
    added_url            text NOT NULL,                -- as the operator gave it
    title                text,
    site_url             text,
    full_text            boolean NOT NULL DEFAULT false,
    poll_seconds         integer NOT NULL DEFAULT 900 CHECK (poll_seconds >= 60),
    etag                 text,
    last_modified        text,
    id_strategy          text NOT NULL DEFAULT 'guid'
                         CHECK (id_strategy IN ('guid', 'link', 'hash')),
    id_strategy_note     text,                         -- why the feed left 'guid'
    next_fetch_at        timestamptz NOT NULL DEFAULT now(),
    lease_until          timestamptz,                  -- claimed by a running ingest until then
    last_fetch_at        timestamptz,
    last_success_at      timestamptz,
    last_status          text CHECK (last_status IN ('ok', 'not_modified', 'failed', 'gone')),
    last_http_status     integer,
    last_error           text,
    consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    disabled_at          timestamptz,
    disabled_reason      text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT feeds_url_uniq UNIQUE (url),
    CONSTRAINT feeds_source_uniq UNIQUE (source),
    CONSTRAINT feeds_disabled_ck CHECK ((disabled_at IS NULL) = (disabled_reason IS NULL))
);
CREATE INDEX feeds_due_idx ON feeds (next_fetch_at) WHERE disabled_at IS NULL;

COMMENT ON TABLE feeds IS 'Polled RSS/Atom/JSON feeds; their entries are articles with source = feeds.source.';
COMMENT ON COLUMN feeds.id_strategy IS 'How entries are keyed: guid, else canonical link, else hash of title and content.';

-- Finding an entry whose GUID changed by its link (GUID churn) without scanning the feed.
CREATE INDEX articles_source_canonical_idx ON articles (source, canonical_url)
    WHERE canonical_url IS NOT NULL;
