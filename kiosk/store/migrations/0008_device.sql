-- Device identity and acknowledged audit heads. Depends on 0001 (kiosk_meta) and 0006 (the
-- keyed audit trail whose heads the exchange acknowledges).

-- The kiosk's own device secret, given once by the exchange at enrollment. It lives only
-- here, inside the encrypted vault, never in settings or logs. One row at most.
CREATE TABLE device_credential (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    kiosk_id      TEXT NOT NULL,
    secret        TEXT NOT NULL,
    exchange_url  TEXT NOT NULL,
    enrolled_at   TEXT NOT NULL
);

-- Receipts the exchange signed for the audit trail's head (seq = the entry's id, head = its
-- MAC), as received. `verified` is 1 when the signature held under the exchange's key the
-- kiosk trusts; an unverifiable receipt is kept too, flagged 0.
CREATE TABLE audit_receipts (
    id           INTEGER PRIMARY KEY,
    kiosk_id     TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    head         TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    signature    TEXT NOT NULL,
    verified     INTEGER NOT NULL CHECK (verified IN (0, 1)),
    stored_at    TEXT NOT NULL
);
CREATE INDEX audit_receipts_by_seq ON audit_receipts (seq, id);

-- A receipt is evidence: the kiosk never deletes or rewrites one. `audit verify` compares the
-- newest with the trail.
CREATE TRIGGER audit_receipts_are_never_deleted BEFORE DELETE ON audit_receipts
BEGIN
    SELECT RAISE(ABORT, 'audit receipts are never deleted');
END;

CREATE TRIGGER audit_receipts_never_change BEFORE UPDATE ON audit_receipts
BEGIN
    SELECT RAISE(ABORT, 'audit receipts never change');
END;
