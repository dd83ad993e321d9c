-- Integrity that the database itself guarantees, whatever the code above it does.
--
-- - Every version points at a stored schema, and a schema cannot be deleted
--   while a version uses it (foreign key).
-- - A schema's references belong to it and go with it (foreign key, cascade).
-- - A subject never holds the same schema twice among its live versions
--   (partial unique index).
-- - Consumer contracts record the subject versions they reference, so a
--   referenced version cannot be deleted from under a contract.
--
-- Databases written before this migration may hold the damage these rules
-- prevent (earlier releases could race). It is repaired first, conservatively:
-- versions whose schema row is gone were unreadable and are removed; a second
-- live version holding the same schema as an earlier one is soft-deleted, which
-- keeps every id readable.

DELETE FROM versions v WHERE NOT EXISTS
    (SELECT 1 FROM schemas s WHERE s.context = v.context AND s.id = v.schema_id);
DELETE FROM schema_references r WHERE NOT EXISTS
    (SELECT 1 FROM schemas s WHERE s.context = r.context AND s.id = r.schema_id);
UPDATE versions v SET deleted = TRUE
WHERE NOT v.deleted AND EXISTS (
    SELECT 1 FROM versions e
    WHERE e.subject = v.subject AND e.schema_id = v.schema_id AND NOT e.deleted AND e.version < v.version);

ALTER TABLE versions ADD CONSTRAINT versions_schema_fkey
    FOREIGN KEY (context, schema_id) REFERENCES schemas (context, id);
ALTER TABLE schema_references ADD CONSTRAINT schema_references_schema_fkey
    FOREIGN KEY (context, schema_id) REFERENCES schemas (context, id) ON DELETE CASCADE;
CREATE INDEX schema_references_schema ON schema_references (context, schema_id);
CREATE UNIQUE INDEX versions_live_schema ON versions (subject, schema_id) WHERE NOT deleted;

CREATE TABLE contract_references (
    subject TEXT NOT NULL,
    consumer TEXT NOT NULL,
    ref_subject TEXT NOT NULL,
    ref_version INTEGER NOT NULL,
    CONSTRAINT contract_references_contract_fkey
        FOREIGN KEY (subject, consumer) REFERENCES contracts (subject, consumer) ON DELETE CASCADE
);
CREATE INDEX contract_references_target ON contract_references (ref_subject, ref_version);

-- Existing contracts' references, qualified the way registration qualifies
-- them: relative to the contract's context unless already qualified.
INSERT INTO contract_references (subject, consumer, ref_subject, ref_version)
SELECT c.subject, c.consumer,
       CASE WHEN r ->> 'subject' LIKE ':.%' OR c.subject NOT LIKE ':.%' THEN r ->> 'subject'
            ELSE substring(c.subject FROM '^(:\.[^:]*:)') || (r ->> 'subject') END,
       (r ->> 'version')::INTEGER
FROM contracts c, json_array_elements(c.references_json::json) r;
