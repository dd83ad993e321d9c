-- The audit log: every change and every refused credential or permission,
-- with who, what, on which subject, how it ended and when. Never a credential.
CREATE TABLE audit_log (
    id TEXT NOT NULL,
    at BIGINT NOT NULL,
    principal TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    result TEXT NOT NULL,
    status INTEGER NOT NULL,
    detail TEXT,
    request_id TEXT,
    CONSTRAINT audit_log_pkey PRIMARY KEY (id)
);
CREATE INDEX audit_log_at ON audit_log (at);
