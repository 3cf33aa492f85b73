-- Corrections sent to POST /feedback: the digit exactly as the model saw it, and what it should be.
-- Applied with `wrangler d1 migrations apply FEEDBACK_DB --local|--remote --env feedback`.
-- No IP address, user agent or other personal data: only what the client chose to send.
CREATE TABLE corrections (
  id         TEXT PRIMARY KEY,                                   -- random UUID, returned as {"id"}
  created_at TEXT NOT NULL,                                      -- ISO 8601, UTC
  label      INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),     -- the right answer
  predicted  INTEGER CHECK (predicted IS NULL OR predicted BETWEEN 0 AND 9),
  model      TEXT,                                               -- model version the client was answered by
  source     TEXT NOT NULL CHECK (source IN ('image', 'pixels', 'pixels-normalized')),
  pixels     BLOB NOT NULL CHECK (length(pixels) = 784)          -- 28×28 bytes, row-major, white ink on black
);

CREATE INDEX corrections_label ON corrections (label);
CREATE INDEX corrections_model ON corrections (model);
