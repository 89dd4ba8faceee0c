-- The member's account at the counter: the exchange's payment history, plan and coverage
-- details, contact details and preferences as the exchange holds them, and the changes made
-- here (profile, preferences, automatic payments, disputes with attachments, receipt
-- deliveries), each sent through the outbox. Depends on 0001 (plans, members, payments) and
-- 0005 (payment_methods); adds columns with defaults, so an older exchange's records still fit.

-- Additive fields of the plan and member records; absent from older exchanges.
ALTER TABLE plans ADD COLUMN copays TEXT NOT NULL DEFAULT '[]';
ALTER TABLE members ADD COLUMN address TEXT;                 -- JSON object, NULL when none
ALTER TABLE members ADD COLUMN profile_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN covered_people TEXT NOT NULL DEFAULT '[]';
ALTER TABLE members ADD COLUMN coverage_end TEXT;
ALTER TABLE members ADD COLUMN plan_effective TEXT;
ALTER TABLE members ADD COLUMN preferences TEXT;             -- JSON object, NULL when none

-- Every payment the exchange publishes in its feed (made here or anywhere else), as it last
-- published it. Local payments not yet in the feed are read from `payments`.
CREATE TABLE exchange_payments (
    payment_id           TEXT PRIMARY KEY,
    member_id            TEXT NOT NULL,
    amount_cents         INTEGER NOT NULL,
    currency             TEXT NOT NULL DEFAULT 'USD',
    status               TEXT NOT NULL,
    method               TEXT NOT NULL,
    confirmation_number  TEXT NOT NULL,
    kiosk_id             TEXT NOT NULL,
    received_at          TEXT NOT NULL,
    return_code          TEXT NOT NULL DEFAULT '',
    returned_at          TEXT,
    refunded_at          TEXT,
    refunded_cents       INTEGER NOT NULL DEFAULT 0,
    last4                TEXT NOT NULL DEFAULT '',
    dispute_id           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX exchange_payments_by_member ON exchange_payments (member_id, received_at);

-- A change to the member's contact details: the fields with the value each started from and
-- the new one. `state`: pending, confirmed, refused (the outbox answer says why: for a conflict
-- it holds both values), resolved (a person chose what to keep; see resolved_by).
CREATE TABLE profile_changes (
    change_id     TEXT PRIMARY KEY,
    member_id     TEXT NOT NULL,
    fields        TEXT NOT NULL,
    base_version  INTEGER NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending',
    resolved_by   TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    navigator     TEXT NOT NULL
);
CREATE INDEX profile_changes_by_member ON profile_changes (member_id, created_at);

CREATE TABLE preference_changes (
    change_id    TEXT PRIMARY KEY,
    member_id    TEXT NOT NULL,
    preferences  TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',
    created_at   TEXT NOT NULL,
    navigator    TEXT NOT NULL
);
CREATE INDEX preference_changes_by_member ON preference_changes (member_id, created_at);

-- Automatic (recurring) and scheduled one-time payments. Never deleted: cancelling marks them.
-- `plan_changed` is set when the member's plan changed while this one was tied to the old
-- plan; it stays until the member moves it to the new plan or cancels it.
CREATE TABLE autopays (
    autopay_id      TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('recurring', 'one_time')),
    method_id       TEXT NOT NULL REFERENCES payment_methods (method_id),
    plan_id         TEXT NOT NULL,
    timing          TEXT NOT NULL,
    day_of_month    INTEGER,
    run_on          TEXT,
    amount_kind     TEXT NOT NULL,
    amount_cents    INTEGER,
    status          TEXT NOT NULL DEFAULT 'active',
    plan_changed    INTEGER NOT NULL DEFAULT 0,
    exchange_state  TEXT NOT NULL DEFAULT 'pending',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    navigator       TEXT NOT NULL
);
CREATE INDEX autopays_by_member ON autopays (member_id, status);
-- At most one recurring automatic payment per member that can still run: a second one could
-- charge the same month twice.
CREATE UNIQUE INDEX autopays_one_recurring ON autopays (member_id)
    WHERE kind = 'recurring' AND status IN ('active', 'paused');

CREATE TRIGGER autopays_are_never_deleted BEFORE DELETE ON autopays
BEGIN
    SELECT RAISE(ABORT, 'automatic payments are never deleted; cancel them');
END;

-- Disputes, the payments each is about, and attachments (photos, PDFs) kept in the vault.
CREATE TABLE disputes (
    dispute_id      TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    currency        TEXT NOT NULL,
    description     TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    messages        TEXT NOT NULL DEFAULT '[]',
    escalated       INTEGER NOT NULL DEFAULT 0,
    bank_call_by    TEXT,
    exchange_state  TEXT NOT NULL DEFAULT 'pending',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    navigator       TEXT NOT NULL
);
CREATE INDEX disputes_by_member ON disputes (member_id, created_at);

CREATE TABLE dispute_payments (
    dispute_id  TEXT NOT NULL REFERENCES disputes (dispute_id),
    payment_id  TEXT NOT NULL,
    PRIMARY KEY (dispute_id, payment_id)
);
CREATE INDEX dispute_payments_by_payment ON dispute_payments (payment_id);

CREATE TABLE dispute_attachments (
    attachment_id  TEXT PRIMARY KEY,
    dispute_id     TEXT NOT NULL REFERENCES disputes (dispute_id),
    filename       TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    content        BLOB NOT NULL
);

-- Receipts the exchange is asked to send by email, text or mail: asked for at the counter,
-- or the confirmation sent once a payment taken here is confirmed (at most one per payment).
CREATE TABLE receipt_deliveries (
    delivery_id  TEXT PRIMARY KEY,
    member_id    TEXT NOT NULL,
    payment_id   TEXT NOT NULL,
    channel      TEXT NOT NULL,
    address      TEXT NOT NULL,
    language     TEXT NOT NULL,
    reason       TEXT NOT NULL CHECK (reason IN ('requested', 'confirmation')),
    state        TEXT NOT NULL DEFAULT 'pending',
    created_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX receipt_deliveries_one_confirmation ON receipt_deliveries (payment_id)
    WHERE reason = 'confirmation';
