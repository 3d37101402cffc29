-- Requests through an account are summed per account and minute (kind
-- 'requests', at = the minute, count = requests): how many answered 2xx,
-- 3xx, 4xx, 5xx or failed (no answer, no token), and the median and 99th
-- percentile duration. Only failures and console test requests keep a row of
-- their own (kind 'request'), with count 0 since the minute's row counts them.
ALTER TABLE activity ADD COLUMN n2xx INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activity ADD COLUMN n3xx INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activity ADD COLUMN n4xx INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activity ADD COLUMN n5xx INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activity ADD COLUMN nfailed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activity ADD COLUMN p50_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activity ADD COLUMN p99_ms INTEGER NOT NULL DEFAULT 0;
