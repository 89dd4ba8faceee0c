-- Deadlines, offline-limit overrides and supervisor cancellation for queued payments.

ALTER TABLE payments ADD COLUMN deadline TEXT;
ALTER TABLE payments ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN override_by TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN cancelled_by TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN cancelled_at TEXT;

CREATE INDEX payments_by_day ON payments (captured_at);
CREATE INDEX card_attempts_by_day ON card_attempts (started_at);
CREATE INDEX outbox_by_subject ON outbox (subject_id);
