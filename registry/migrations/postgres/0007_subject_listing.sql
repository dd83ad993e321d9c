-- The subject listing counts each subject's live versions, in byte order; with
-- `deleted` in an index beside the subject it can read that index alone
-- (an index-only scan), instead of fetching every version's row.
CREATE INDEX versions_subject_live ON versions (subject COLLATE "C", deleted);
