-- Issue 14 part B: values captured from the provider's answers (a JSON
-- object of name to value, usable as {name} like parameters) and the
-- account's identity at the provider ('' until the first connect records
-- it). Portable SQL: the PostgreSQL twin is the same statements.
ALTER TABLE accounts ADD COLUMN captured TEXT NOT NULL DEFAULT '{}';
ALTER TABLE accounts ADD COLUMN identity TEXT NOT NULL DEFAULT '';
