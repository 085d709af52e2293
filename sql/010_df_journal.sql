-- Document-frequency increments journalled per batch, added to thread_term_df every few
-- batches (measured through Postgres in bench/bench_threading.py, bench/results.md).
--
-- Each clustering batch used to upsert every key its articles hold into thread_term_df:
-- ~30 distinct keys an article on the synthetic stream, the largest part of the server's
-- work for threading. Common keys come back batch after batch, so adding several batches'
-- counts at once upserts far fewer rows (10 batches of 2,000 articles: 23% of the rows).
-- A batch now records its increments here, in its own transaction (nothing is lost if the
-- run dies); every few batches, and always at the end of a run, one batch adds the sum of
-- the journal to thread_term_df and empties the journal, in the same transaction. A run
-- that died between the two leaves rows here: the next run or rethread adds them first,
-- under the clustering lock, before it reads any count.
--
-- So between runs thread_term_df holds every count; during a run it may lag by the last few
-- batches. Only threading reads either table.
CREATE TABLE thread_df_journal (
    seq         bigint PRIMARY KEY,   -- thread_state.seq after the batch
    increments  bytea NOT NULL        -- JSON object {key: count}, as store.df_params encodes it
);
-- Written once, read only after a crash, deleted within minutes: not worth compressing.
ALTER TABLE thread_df_journal ALTER COLUMN increments SET STORAGE EXTERNAL;

COMMENT ON TABLE thread_df_journal IS
    'Document-frequency increments of clustering batches not yet added to thread_term_df.';
