-- Alerts: an account that needs a person. At most one open alert per account
-- and kind; an alert closes when the account recovers or a user acknowledges it.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    opened_at       INTEGER NOT NULL,
    resolved_at     INTEGER NOT NULL DEFAULT 0,
    resolution      TEXT NOT NULL DEFAULT '',
    acknowledged_by TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX alerts_open_once ON alerts (account_id, kind) WHERE resolved_at = 0;
CREATE INDEX alerts_resolved ON alerts (resolved_at);

-- The webhook that hears of alerts. One row; the signing secret is sealed.
CREATE TABLE webhook_config (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    url        TEXT NOT NULL DEFAULT '',
    secret     BLOB,
    updated_at INTEGER NOT NULL
);

-- Webhook deliveries, written in the same transaction as the alert they
-- announce (an outbox), then sent by a worker with retries.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
