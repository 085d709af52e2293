-- What went wrong (and what was doubtful) in the latest run.
SELECT r.kind, r.status, e.severity, e.input, e.line, e.item_key, e.reason
FROM ingest_errors e
JOIN ingest_runs r ON r.id = e.run_id
WHERE e.run_id = (SELECT max(id) FROM ingest_runs)
ORDER BY e.id;
