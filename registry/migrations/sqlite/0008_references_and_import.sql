-- A version may be permanently deleted while a soft-deleted schema still
-- references it (Confluent allows that: only live referrers protect a version).
-- The delete leaves a pin holding the fingerprint of the schema the version
-- held: only that schema may take the version number again, so the
-- soft-deleted schema's reference never comes to mean another schema. A pin
-- goes when the same schema takes its version again or when nothing
-- references the version any more.
CREATE TABLE version_pins (
    subject TEXT NOT NULL,
    version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    CONSTRAINT version_pins_pkey PRIMARY KEY (subject, version)
);

-- An IMPORT may overwrite a version with another schema, as Confluent's does.
-- The schema the version held keeps its id and content, readable by id for
-- the messages that carry it, even when no version uses it any more: this
-- records it, and permanent deletes never sweep a schema recorded here.
CREATE TABLE retired_schemas (
    context TEXT NOT NULL,
    id INTEGER NOT NULL,
    subject TEXT NOT NULL,
    version INTEGER NOT NULL,
    retired_at INTEGER NOT NULL,
    CONSTRAINT retired_schemas_pkey PRIMARY KEY (context, id, subject, version),
    CONSTRAINT retired_schemas_schema_fkey
        FOREIGN KEY (context, id) REFERENCES schemas (context, id) ON DELETE CASCADE
);
