-- Listings page through every version in byte order of the subject (Java's
-- order for every subject without characters beyond the Basic Multilingual
-- Plane), which the primary key, in the database's collation, cannot serve.
CREATE INDEX versions_subject_bytes ON versions (subject COLLATE "C", version);
