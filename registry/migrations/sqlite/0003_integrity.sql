-- Integrity that the database itself guarantees, whatever the code above it
-- does (the same rules as PostgreSQL's 0003):
--
-- - Every version points at a stored schema, and a schema cannot be deleted
--   while a version uses it (foreign key; SQLite adds one only by rebuilding
--   the table).
-- - A schema's references belong to it and go with it (foreign key, cascade).
-- - A subject never holds the same schema twice among its live versions
--   (partial unique index).
-- - Consumer contracts record the subject versions they reference, so a
--   referenced version cannot be deleted from under a contract.
--
-- Damage from earlier releases is repaired first: versions whose schema row is
-- gone were unreadable and are removed; a second live version holding the same
-- schema as an earlier one is soft-deleted.

DELETE FROM versions WHERE NOT EXISTS
    (SELECT 1 FROM schemas s WHERE s.context = versions.context AND s.id = versions.schema_id);
DELETE FROM schema_references WHERE NOT EXISTS
    (SELECT 1 FROM schemas s WHERE s.context = schema_references.context AND s.id = schema_references.schema_id);
UPDATE versions SET deleted = 1
WHERE deleted = 0 AND EXISTS (
    SELECT 1 FROM versions e
    WHERE e.subject = versions.subject AND e.schema_id = versions.schema_id AND e.deleted = 0
      AND e.version < versions.version);

CREATE TABLE versions_new (
    subject TEXT NOT NULL,
    context TEXT NOT NULL,
    version INTEGER NOT NULL,
    schema_id INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    CONSTRAINT versions_pkey PRIMARY KEY (subject, version),
    CONSTRAINT versions_schema_fkey FOREIGN KEY (context, schema_id) REFERENCES schemas (context, id)
);
INSERT INTO versions_new (subject, context, version, schema_id, deleted, created_at)
    SELECT subject, context, version, schema_id, deleted, created_at FROM versions;
DROP TABLE versions;
ALTER TABLE versions_new RENAME TO versions;
CREATE INDEX versions_schema ON versions (context, schema_id);
CREATE UNIQUE INDEX versions_live_schema ON versions (subject, schema_id) WHERE deleted = 0;

CREATE TABLE schema_references_new (
    context TEXT NOT NULL,
    schema_id INTEGER NOT NULL,
    ref_subject TEXT NOT NULL,
    ref_version INTEGER NOT NULL,
    CONSTRAINT schema_references_schema_fkey
        FOREIGN KEY (context, schema_id) REFERENCES schemas (context, id) ON DELETE CASCADE
);
INSERT INTO schema_references_new (context, schema_id, ref_subject, ref_version)
    SELECT context, schema_id, ref_subject, ref_version FROM schema_references;
DROP TABLE schema_references;
ALTER TABLE schema_references_new RENAME TO schema_references;
CREATE INDEX schema_references_target ON schema_references (ref_subject, ref_version);
CREATE INDEX schema_references_schema ON schema_references (context, schema_id);

CREATE TABLE contract_references (
    subject TEXT NOT NULL,
    consumer TEXT NOT NULL,
    ref_subject TEXT NOT NULL,
    ref_version INTEGER NOT NULL,
    CONSTRAINT contract_references_contract_fkey
        FOREIGN KEY (subject, consumer) REFERENCES contracts (subject, consumer) ON DELETE CASCADE
);
CREATE INDEX contract_references_target ON contract_references (ref_subject, ref_version);

INSERT INTO contract_references (subject, consumer, ref_subject, ref_version)
SELECT c.subject, c.consumer,
       CASE WHEN json_extract(r.value, '$.subject') LIKE ':.%' OR c.subject NOT LIKE ':.%'
            THEN json_extract(r.value, '$.subject')
            ELSE substr(c.subject, 1, instr(substr(c.subject, 3), ':') + 2) || json_extract(r.value, '$.subject') END,
       json_extract(r.value, '$.version')
FROM contracts c, json_each(c.references_json) r;
