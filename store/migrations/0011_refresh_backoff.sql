-- A failed refresh starts a failure streak, kept with the account's refresh
-- lease so that every process backs off the same way: how many attempts in a
-- row failed, when the next one may be made, the last error, the token
-- version whose refresh answer was lost in transit (0: none), and the one
-- activity row that tells the streak's story. A released lease keeps its row
-- (holder '' and expires_at 0), so the streak outlives it.
ALTER TABLE token_leases ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE token_leases ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE token_leases ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE token_leases ADD COLUMN lost_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE token_leases ADD COLUMN streak_activity_id INTEGER NOT NULL DEFAULT 0;

-- An activity row may stand for several events: a failure streak (count =
-- attempts, last_at = the latest) or, later, a minute of requests.
ALTER TABLE activity ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE activity ADD COLUMN last_at INTEGER NOT NULL DEFAULT 0;

-- One row a readiness check rewrites to see whether the database takes writes.
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
