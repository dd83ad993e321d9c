-- Consumer contracts: what each consumer service reads from a subject.
CREATE TABLE contracts (
    subject TEXT NOT NULL,
    consumer TEXT NOT NULL,
    schema_type TEXT NOT NULL,
    schema_text TEXT NOT NULL,
    references_json TEXT NOT NULL,
    consumer_version TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT contracts_pkey PRIMARY KEY (subject, consumer)
);
