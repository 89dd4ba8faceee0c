-- Security: a hash-chained, keyed audit trail, and failed sign-in counting for staff.
-- Depends only on 0001 (the audit, staff and kiosk_meta tables).

-- Each entry stores the MAC of the entry before it (prev_hash) and its own MAC, an
-- HMAC-SHA256 keyed from the vault key over (id, at, actor, action, subject, detail,
-- prev_hash). Entries written before this migration are sealed at the next start.
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN mac TEXT NOT NULL DEFAULT '';

-- Nobody deletes or rewrites an entry through the kiosk; only its seal may be set (once for
-- old entries, and again when the vault is re-keyed). `audit verify` catches what bypasses
-- this.
CREATE TRIGGER audit_entries_are_never_deleted BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit entries are never deleted');
END;

CREATE TRIGGER audit_entries_never_change
BEFORE UPDATE OF id, at, actor, action, subject, detail ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit entries never change');
END;

-- Consecutive failed sign-ins, and until when the account must wait (a short delay after the
-- third failure, a 30-minute lock after the tenth). Deactivated accounts keep their row.
ALTER TABLE staff ADD COLUMN failed_signins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff ADD COLUMN locked_until TEXT;
ALTER TABLE staff ADD COLUMN deactivated_at TEXT;
ALTER TABLE staff ADD COLUMN deactivated_by TEXT NOT NULL DEFAULT '';
