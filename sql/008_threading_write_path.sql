-- Threading's write path, cheaper for the server (measured in bench/bench_threading.py through
-- Postgres, bench/results.md). Neither statement changes a value a query reads.

-- Every batch adds to the counts of tens of thousands of terms already in thread_term_df.
-- With room left on each page, PostgreSQL updates such a row in place as a heap-only tuple
-- instead of writing a new primary-key entry for it (about a quarter less time for the
-- batch's increments). Pages written before this migration keep their old fill until the
-- table is rewritten (VACUUM FULL, at a quiet moment); new pages get the room.
ALTER TABLE thread_term_df SET (fillfactor = 60);

-- Thread vectors and members' features are large jsonb values rewritten batch after batch;
-- lz4 compresses them several times faster than PostgreSQL's default (pglz). Servers built
-- without lz4 (the embedded pgserver is one) keep pglz: the same data, compressed slower.
DO $$
BEGIN
    ALTER TABLE thread_vectors
        ALTER COLUMN text_tf SET COMPRESSION lz4,
        ALTER COLUMN ents_tf SET COMPRESSION lz4,
        ALTER COLUMN xling_tf SET COMPRESSION lz4;
    ALTER TABLE thread_member_features ALTER COLUMN features SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available on this server: thread vectors stay pglz-compressed';
END
$$;
