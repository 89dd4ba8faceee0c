-- Every way to pay besides a card at the terminal: ACH bank transfers with their in-person
-- (Nacha PPD) authorizations, PayPal and Venmo links, and saved payment methods.
-- Applies after 0004 (card terminal) and before 0006 (security); touches neither the audit
-- nor the staff table.

-- payments is rebuilt once, only so that sale_reference (a card attempt) may be empty: an ACH
-- or PayPal payment has no card attempt. Every column of 0001, 0003 and 0004 is copied as it
-- is, with its constraints; nothing references payments, so the swap is safe with foreign
-- keys on. The two new columns hold an ACH return reported later by the exchange.
CREATE TABLE payments_new (
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
    sale_reference       TEXT UNIQUE REFERENCES card_attempts (sale_reference),
    coverage_months      TEXT NOT NULL,
    navigator            TEXT NOT NULL,
    site                 TEXT NOT NULL,
    captured_at          TEXT NOT NULL,
    status               TEXT NOT NULL,
    confirmation_number  TEXT NOT NULL DEFAULT '',
    confirmed_at         TEXT,
    deadline             TEXT,
    offline              INTEGER NOT NULL DEFAULT 0,
    override_by          TEXT NOT NULL DEFAULT '',
    cancelled_by         TEXT NOT NULL DEFAULT '',
    cancel_reason        TEXT NOT NULL DEFAULT '',
    cancelled_at         TEXT,
    requested_cents      INTEGER CHECK (requested_cents >= amount_cents),
    wallet               TEXT NOT NULL DEFAULT '',
    offline_approved     INTEGER NOT NULL DEFAULT 0,
    return_code          TEXT NOT NULL DEFAULT '',
    returned_at          TEXT,
    CHECK (method = 'card' OR sale_reference IS NULL)
);
INSERT INTO payments_new (payment_id, receipt_number, member_id, amount_cents, currency, method,
    brand, last4, card_token, auth_code, entry_mode, sale_reference, coverage_months, navigator,
    site, captured_at, status, confirmation_number, confirmed_at, deadline, offline, override_by,
    cancelled_by, cancel_reason, cancelled_at, requested_cents, wallet, offline_approved)
SELECT payment_id, receipt_number, member_id, amount_cents, currency, method, brand, last4,
    card_token, auth_code, entry_mode, sale_reference, coverage_months, navigator, site,
    captured_at, status, confirmation_number, confirmed_at, deadline, offline, override_by,
    cancelled_by, cancel_reason, cancelled_at, requested_cents, wallet, offline_approved
FROM payments;
DROP TABLE payments;
ALTER TABLE payments_new RENAME TO payments;
CREATE INDEX payments_by_member ON payments (member_id, captured_at);
CREATE INDEX payments_by_day ON payments (captured_at);

-- The member's authorization of an ACH debit, signed at the kiosk: the exact text shown, in
-- the member's language, and a signature image or a typed name with its confirmation box.
-- Nacha requires the originator to keep it two years after the authorization ends; the
-- kiosk keeps it at least two years (a trigger refuses earlier deletion) and never edits it.
CREATE TABLE ach_authorizations (
    authorization_id   TEXT PRIMARY KEY,
    member_id          TEXT NOT NULL,
    language           TEXT NOT NULL,
    text               TEXT NOT NULL CHECK (length(text) > 0),
    signature_png      BLOB,
    typed_name         TEXT NOT NULL DEFAULT '',
    typed_confirmed    INTEGER NOT NULL DEFAULT 0,
    signed_at          TEXT NOT NULL,
    navigator          TEXT NOT NULL,
    site               TEXT NOT NULL,
    kiosk_id           TEXT NOT NULL,
    routing_number     TEXT NOT NULL,
    account_last4      TEXT NOT NULL,
    account_type       TEXT NOT NULL,
    amount_cents       INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    CHECK (signature_png IS NOT NULL OR (typed_name <> '' AND typed_confirmed = 1))
);
CREATE INDEX ach_authorizations_by_member ON ach_authorizations (member_id, signed_at);

CREATE TRIGGER ach_authorizations_kept_two_years BEFORE DELETE ON ach_authorizations
WHEN old.signed_at > strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 years')
BEGIN
    SELECT RAISE(ABORT, 'ACH authorizations are kept at least two years');
END;

CREATE TRIGGER ach_authorizations_never_change BEFORE UPDATE ON ach_authorizations
BEGIN
    SELECT RAISE(ABORT, 'ACH authorizations never change');
END;

-- The bank account an ACH payment debits. The full account number lives only here, in the
-- payment_methods table and in the outbox payload, all inside the encrypted vault.
CREATE TABLE ach_payments (
    payment_id         TEXT PRIMARY KEY REFERENCES payments (payment_id),
    routing_number     TEXT NOT NULL,
    account_number     TEXT NOT NULL,
    account_type       TEXT NOT NULL,
    authorization_id   TEXT NOT NULL UNIQUE REFERENCES ach_authorizations (authorization_id)
);

-- PayPal and Venmo links the exchange made for this kiosk, and what became of each. A paid
-- link becomes exactly one payment (payment_id is set once).
CREATE TABLE hosted_payments (
    hosted_id            TEXT PRIMARY KEY,
    idempotency_key      TEXT NOT NULL UNIQUE,
    member_id            TEXT NOT NULL,
    provider             TEXT NOT NULL,
    amount_cents         INTEGER NOT NULL CHECK (amount_cents > 0),
    currency             TEXT NOT NULL,
    url                  TEXT NOT NULL,
    short_url            TEXT NOT NULL,
    short_code           TEXT NOT NULL,
    expires_at           TEXT NOT NULL,
    status               TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    navigator            TEXT NOT NULL,
    site                 TEXT NOT NULL,
    payment_id           TEXT UNIQUE REFERENCES payments (payment_id),
    texted_at            TEXT
);
CREATE INDEX hosted_payments_open ON hosted_payments (created_at) WHERE status = 'pending';

-- Cards (as terminal tokens) and bank accounts a member saved for later payments. Rows are
-- never deleted: removing a method marks it removed. One default per member at most.
CREATE TABLE payment_methods (
    method_id          TEXT PRIMARY KEY,
    member_id          TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('card', 'bank_account')),
    brand              TEXT NOT NULL DEFAULT '',
    last4              TEXT NOT NULL,
    card_token         TEXT NOT NULL DEFAULT '',
    exp_month          INTEGER,
    exp_year           INTEGER,
    routing_number     TEXT NOT NULL DEFAULT '',
    account_number     TEXT NOT NULL DEFAULT '',
    account_type       TEXT NOT NULL DEFAULT '',
    is_default         INTEGER NOT NULL DEFAULT 0,
    state              TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'removed')),
    exchange_state     TEXT NOT NULL DEFAULT 'pending',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    removed_at         TEXT,
    navigator          TEXT NOT NULL,
    CHECK (is_default = 0 OR state = 'active')
);
CREATE INDEX payment_methods_by_member ON payment_methods (member_id, state);
CREATE UNIQUE INDEX payment_methods_one_default ON payment_methods (member_id)
    WHERE is_default = 1;

CREATE TRIGGER payment_methods_are_never_deleted BEFORE DELETE ON payment_methods
BEGIN
    SELECT RAISE(ABORT, 'payment methods are never deleted; mark them removed');
END;
