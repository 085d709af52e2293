-- Threading's largest state values in a compact binary form (measured through Postgres in
-- bench/bench_threading.py, bench/results.md). A thread's term sums (text, entities,
-- language-blind keys), languages and entity display forms are rewritten after every batch
-- that touches the thread (~19 kB of JSON a thread on the synthetic stream), and a member's
-- kept features once per article: as jsonb the server parsed every value and toasted the
-- three sums apart. Nothing queries inside them (only threading reads them back, as a
-- whole), so they now travel and are stored as one msgpack value each (``packed``): about
-- half the bytes, no parsing on the server, one toasted value a thread.
--
-- Rows written before this migration keep their jsonb columns and packed NULL; threading
-- reads either form and writes only the packed one, so a thread is converted the next time
-- a batch touches it. Readers of the state tables are threading's own (store/threads.py).

ALTER TABLE thread_vectors
    ADD COLUMN packed bytea,  -- msgpack [text_tf, ents_tf, xling_tf, langs, display]
    ALTER COLUMN text_tf DROP NOT NULL,
    ALTER COLUMN ents_tf DROP NOT NULL,
    ALTER COLUMN xling_tf DROP NOT NULL,
    ALTER COLUMN langs DROP NOT NULL,
    ALTER COLUMN display DROP NOT NULL,
    ADD CONSTRAINT thread_vectors_sums_ck CHECK (packed IS NOT NULL OR text_tf IS NOT NULL);

ALTER TABLE thread_member_features
    ADD COLUMN packed bytea,  -- msgpack of the same object as features
    ALTER COLUMN features DROP NOT NULL,
    ADD CONSTRAINT thread_member_features_ck CHECK (packed IS NOT NULL OR features IS NOT NULL);

COMMENT ON COLUMN thread_vectors.packed IS
    'msgpack [text_tf, ents_tf, xling_tf, langs, display] (the jsonb columns are NULL then).';
COMMENT ON COLUMN thread_member_features.packed IS
    'msgpack of the member''s features (features is NULL then).';

-- lz4 where the server has it, as 008 does for the jsonb values.
DO $$
BEGIN
    ALTER TABLE thread_vectors ALTER COLUMN packed SET COMPRESSION lz4;
    ALTER TABLE thread_member_features ALTER COLUMN packed SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available on this server: packed state stays pglz-compressed';
END
$$;
