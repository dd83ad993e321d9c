-- The subject listing counts each subject's live versions; with `deleted` in
-- an index beside the subject it reads that index alone, instead of looking up
-- every version's row (a million lookups for a million versions).
CREATE INDEX versions_subject_live ON versions (subject, deleted);
