-- Listings page through every version in byte order of the subject: SQLite
-- compares TEXT by bytes, so the primary key (subject, version) serves. Kept
-- so that both backends' migrations stay numbered alike.
SELECT 1;
