-- Deployment gating: services and their versions, what each version produces
-- and consumes, environments and what runs in them; and webhooks.
--
-- A service version's schemas are immutable snapshots: the answer to
-- "can version V go to production" must not change because a subject was
-- edited later. Only deployment records and branches change.

CREATE TABLE services (
    name TEXT NOT NULL,
    main_branch TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT services_pkey PRIMARY KEY (name)
);

CREATE TABLE service_versions (
    service TEXT NOT NULL REFERENCES services (name) ON DELETE CASCADE,
    version TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT service_versions_pkey PRIMARY KEY (service, version)
);

-- The branches a version was published from (a merge adds the main branch).
CREATE TABLE service_version_branches (
    service TEXT NOT NULL,
    version TEXT NOT NULL,
    branch TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT service_version_branches_pkey PRIMARY KEY (service, version, branch),
    CONSTRAINT service_version_branches_version_fkey FOREIGN KEY (service, version)
        REFERENCES service_versions (service, version) ON DELETE CASCADE
);

-- role: 'produces' (schema_id and subject_version say which registered
-- version) or 'consumes' (the reader schema of a consumer contract).
CREATE TABLE service_schemas (
    service TEXT NOT NULL,
    version TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('produces', 'consumes')),
    subject TEXT NOT NULL,
    schema_type TEXT NOT NULL,
    schema_text TEXT NOT NULL,
    references_json TEXT NOT NULL,
    schema_id INTEGER,
    subject_version INTEGER,
    CONSTRAINT service_schemas_pkey PRIMARY KEY (service, version, role, subject),
    CONSTRAINT service_schemas_version_fkey FOREIGN KEY (service, version)
        REFERENCES service_versions (service, version) ON DELETE CASCADE
);
CREATE INDEX service_schemas_subject ON service_schemas (subject, role);

CREATE TABLE environments (
    name TEXT NOT NULL,
    production INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    CONSTRAINT environments_pkey PRIMARY KEY (name)
);

-- One version of a service runs in an environment; recording another replaces it.
CREATE TABLE deployments (
    environment TEXT NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
    service TEXT NOT NULL,
    version TEXT NOT NULL,
    deployed_at INTEGER NOT NULL,
    CONSTRAINT deployments_pkey PRIMARY KEY (environment, service),
    CONSTRAINT deployments_version_fkey FOREIGN KEY (service, version)
        REFERENCES service_versions (service, version)
);
CREATE INDEX deployments_version ON deployments (service, version);

CREATE TABLE webhooks (
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    events_json TEXT NOT NULL,
    subject_pattern TEXT,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT webhooks_pkey PRIMARY KEY (id)
);

-- status: 'pending' (next_attempt_at says when), 'delivered' or 'failed'
-- (attempts exhausted). A replica claims a due delivery by setting
-- lease_until; an expired lease (a replica that died) lets another claim it.
CREATE TABLE webhook_deliveries (
    id TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);
