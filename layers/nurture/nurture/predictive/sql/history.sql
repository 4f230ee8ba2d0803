-- (after _population.sql) what each contact in `wanted` did before its cutoff, oldest
-- first: the hand-made score is replayed over it (nurture.predictive.handmade) to compare.
SELECT r.contact_id, r.id, r.kind, r.name, CAST(r.ts AS VARCHAR) AS ts, r.url, r.program_id,
       CAST(p.cutoff AS VARCHAR) AS cutoff
FROM resolved AS r
JOIN population AS p ON p.contact_id = r.contact_id
JOIN wanted AS w ON w.contact_id = r.contact_id
WHERE r.ts < p.cutoff
ORDER BY r.contact_id, r.ts, r.id
