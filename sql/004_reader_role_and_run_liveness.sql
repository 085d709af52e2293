-- 004: a read-only role for analysts and BI tools, and runs that know their own process.

-- news_reader: SELECT on the views users query and on articles, nothing else. Roles are
-- cluster-wide, so it is created once per server; without CREATEROLE the migration only says so.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'news_reader') THEN
        BEGIN
            CREATE ROLE news_reader NOLOGIN;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'news_reader not created: this user may not create roles';
            RETURN;
        END;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO news_reader', current_database());
    GRANT USAGE ON SCHEMA public TO news_reader;
    GRANT SELECT ON story_threads, thread_articles_v, articles TO news_reader;
    GRANT EXECUTE ON FUNCTION news_ts_config(text) TO news_reader;
END
$$;

-- A run remembers the backend that writes it, so a run whose process died (SIGKILL, a lost
-- server) can be told apart from one still going, and closed as 'abandoned' by the next run.
ALTER TABLE ingest_runs ADD COLUMN backend_pid integer;
ALTER TABLE ingest_runs DROP CONSTRAINT ingest_runs_status_check;
ALTER TABLE ingest_runs ADD CONSTRAINT ingest_runs_status_check
    CHECK (status IN ('running', 'ok', 'partial', 'failed', 'abandoned'));
