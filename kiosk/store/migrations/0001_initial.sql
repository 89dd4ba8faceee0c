-- The first schema: staff, the member cache, payments, the outbox and the audit trail.

CREATE TABLE kiosk_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE staff (
    username        TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    totp_secret     TEXT NOT NULL,
    last_totp_step  INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE plans (
    plan_id              TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    issuer               TEXT NOT NULL,
    metal_level          TEXT NOT NULL,
    gross_premium_cents  INTEGER NOT NULL,
    deductible_cents     INTEGER NOT NULL,
    oop_max_cents        INTEGER NOT NULL
);

CREATE TABLE members (
    member_id           TEXT PRIMARY KEY,
    first_name          TEXT NOT NULL,
    last_name           TEXT NOT NULL,
    date_of_birth       TEXT NOT NULL,
    phone               TEXT NOT NULL,
    email               TEXT NOT NULL,
    plan_id             TEXT NOT NULL,
    aptc_cents          INTEGER NOT NULL,
    net_premium_cents   INTEGER NOT NULL,
    preferred_language  TEXT NOT NULL,
    coverage_start      TEXT NOT NULL,
    status              TEXT NOT NULL,
    name_folded         TEXT NOT NULL,
    phone_digits        TEXT NOT NULL
);
CREATE INDEX members_by_dob ON members (date_of_birth);
CREATE INDEX members_by_phone ON members (phone_digits);
CREATE INDEX members_by_name ON members (name_folded);

CREATE TABLE invoices (
    invoice_id         TEXT PRIMARY KEY,
    member_id          TEXT NOT NULL,
    coverage_month     TEXT NOT NULL,
    amount_due_cents   INTEGER NOT NULL,
    amount_paid_cents  INTEGER NOT NULL,
    due_date           TEXT NOT NULL,
    is_binder          INTEGER NOT NULL,
    status             TEXT NOT NULL
);
CREATE INDEX invoices_by_member ON invoices (member_id, coverage_month);

-- A card attempt is written before the terminal is asked to charge, so a crash mid-charge
-- leaves a trace to look up by sale reference instead of a silent gap.
CREATE TABLE card_attempts (
    sale_reference  TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL,
    amount_cents    INTEGER NOT NULL,
    navigator       TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    result          TEXT NOT NULL DEFAULT 'started',
    decline_reason  TEXT NOT NULL DEFAULT '',
    finished_at     TEXT
);

CREATE TABLE payments (
    payment_id           TEXT PRIMARY KEY,
    receipt_number       TEXT NOT NULL UNIQUE,
    member_id            TEXT NOT NULL,
    amount_cents         INTEGER NOT NULL CHECK (amount_cents > 0),
    currency             TEXT NOT NULL,
    method               TEXT NOT NULL,
    brand                TEXT NOT NULL,
    last4                TEXT NOT NULL,
    card_token           TEXT NOT NULL,
    auth_code            TEXT NOT NULL,
    entry_mode           TEXT NOT NULL,
    sale_reference       TEXT NOT NULL UNIQUE REFERENCES card_attempts (sale_reference),
    coverage_months      TEXT NOT NULL,
    navigator            TEXT NOT NULL,
    site                 TEXT NOT NULL,
    captured_at          TEXT NOT NULL,
    status               TEXT NOT NULL,
    confirmation_number  TEXT NOT NULL DEFAULT '',
    confirmed_at         TEXT
);
CREATE INDEX payments_by_member ON payments (member_id, captured_at);

-- The outbox: every change that must reach the exchange. Rows are never deleted and their
-- key and payload never change, so every retry sends the same bytes under the same key.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    kiosk_seq        INTEGER NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    member_id        TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    payload          BLOB NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    last_sent_at     TEXT,
    finished_at      TEXT,
    response_status  INTEGER,
    response_body    BLOB
);
CREATE INDEX outbox_by_state ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_member ON outbox (member_id, id);

CREATE TRIGGER outbox_rows_are_never_deleted BEFORE DELETE ON outbox
BEGIN
    SELECT RAISE(ABORT, 'outbox rows are never deleted');
END;

CREATE TRIGGER outbox_key_and_payload_never_change
BEFORE UPDATE OF idempotency_key, kiosk_seq, payload ON outbox
BEGIN
    SELECT RAISE(ABORT, 'outbox key, sequence and payload never change');
END;

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    subject  TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT ''
);
