-- Stele's PostgreSQL schema: the same tables as SQLite's.
--
-- Several `stele serve` replicas share these tables. Registration takes a
-- transaction-scoped advisory lock on its subject (so reading the highest
-- version and inserting the next cannot interleave with another replica) and
-- a row lock on its context's id counter (so two replicas never hand out the
-- same id, and the same schema registered at once under two subjects gets one
-- id). Every write NOTIFYs `stele_changes` so replicas drop cached answers.

CREATE TABLE contexts (
    name TEXT PRIMARY KEY
);

CREATE TABLE id_counters (
    context TEXT PRIMARY KEY,
    max_id BIGINT NOT NULL
);

CREATE TABLE schemas (
    context TEXT NOT NULL,
    id BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    schema_type TEXT NOT NULL,
    schema_text TEXT NOT NULL,
    references_json TEXT NOT NULL,
    metadata_json TEXT,
    rule_set_json TEXT,
    created_at BIGINT NOT NULL,
    CONSTRAINT schemas_pkey PRIMARY KEY (context, id),
    CONSTRAINT schemas_fingerprint_key UNIQUE (context, fingerprint)
);

CREATE TABLE versions (
    subject TEXT NOT NULL,
    context TEXT NOT NULL,
    version INTEGER NOT NULL,
    schema_id BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    CONSTRAINT versions_pkey PRIMARY KEY (subject, version)
);
CREATE INDEX versions_schema ON versions (context, schema_id);

CREATE TABLE schema_references (
    context TEXT NOT NULL,
    schema_id BIGINT NOT NULL,
    ref_subject TEXT NOT NULL,
    ref_version INTEGER NOT NULL
);
CREATE INDEX schema_references_target ON schema_references (ref_subject, ref_version);

CREATE TABLE configs (
    scope TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE modes (
    scope TEXT PRIMARY KEY,
    mode TEXT NOT NULL
);
