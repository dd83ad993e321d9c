-- Stele's SQLite schema.
--
-- schemas: one row per distinct schema in a context; its id never changes
--   content (the fingerprint is unique per context).
-- versions: one row per subject version; soft delete is the `deleted` flag that
--   every live read filters on; a hard delete removes the row.
-- id_counters: the id high-water mark per context, so an id freed by a hard
--   delete is never handed out again.

CREATE TABLE contexts (
    name TEXT PRIMARY KEY NOT NULL
);

CREATE TABLE id_counters (
    context TEXT PRIMARY KEY NOT NULL,
    max_id INTEGER NOT NULL
);

CREATE TABLE schemas (
    context TEXT NOT NULL,
    id INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    schema_type TEXT NOT NULL,
    schema_text TEXT NOT NULL,
    references_json TEXT NOT NULL,
    metadata_json TEXT,
    rule_set_json TEXT,
    created_at INTEGER NOT NULL,
    CONSTRAINT schemas_pkey PRIMARY KEY (context, id)
);
CREATE UNIQUE INDEX schemas_fingerprint_key ON schemas (context, fingerprint);

CREATE TABLE versions (
    subject TEXT NOT NULL,
    context TEXT NOT NULL,
    version INTEGER NOT NULL,
    schema_id INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    CONSTRAINT versions_pkey PRIMARY KEY (subject, version)
);
CREATE INDEX versions_schema ON versions (context, schema_id);

CREATE TABLE schema_references (
    context TEXT NOT NULL,
    schema_id INTEGER NOT NULL,
    ref_subject TEXT NOT NULL,
    ref_version INTEGER NOT NULL
);
CREATE INDEX schema_references_target ON schema_references (ref_subject, ref_version);

CREATE TABLE configs (
    scope TEXT PRIMARY KEY NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE modes (
    scope TEXT PRIMARY KEY NOT NULL,
    mode TEXT NOT NULL
);
