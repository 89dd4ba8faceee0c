-- What the card terminal can answer beyond "approved" and "declined": a partial approval (the
-- payment is the amount approved, the rest stays due), an approval by the terminal itself while
-- it could not reach the card issuer (store and forward: it may still be declined), a phone
-- wallet, and attempts whose outcome is not known yet ('unknown', looked up again later).

-- The amount asked at the terminal; amount_cents is what it approved. Earlier payments were
-- always approved in full.
ALTER TABLE payments ADD COLUMN requested_cents INTEGER CHECK (requested_cents >= amount_cents);
UPDATE payments SET requested_cents = amount_cents;
ALTER TABLE payments ADD COLUMN wallet TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN offline_approved INTEGER NOT NULL DEFAULT 0;

-- An attempt keeps what a payment recorded later (after a crash or an unknown outcome) needs:
-- the currency, the supervisor who approved an offline-limit override, whether the exchange
-- was unreachable, and when the terminal was last asked about it.
ALTER TABLE card_attempts ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD';
ALTER TABLE card_attempts ADD COLUMN override_by TEXT NOT NULL DEFAULT '';
ALTER TABLE card_attempts ADD COLUMN exchange_offline INTEGER NOT NULL DEFAULT 0;
ALTER TABLE card_attempts ADD COLUMN error_code TEXT NOT NULL DEFAULT '';
ALTER TABLE card_attempts ADD COLUMN checked_at TEXT;

CREATE INDEX card_attempts_open ON card_attempts (started_at)
    WHERE result IN ('started', 'unknown');
