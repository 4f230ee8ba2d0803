-- Program review: per program, the last entry and the last conversion, and how many runs
-- entered in the last window (entries from dt_from on).
-- Every figure counts distinct runs, so a row a retried batch wrote twice counts once.
WITH acts AS (
  SELECT * FROM activities AS a
  WHERE a.dt >= :dt_from AND a.name IN ('program.entered', 'program.converted')
)
SELECT program_id,
       MAX(CASE WHEN name = 'program.entered' THEN ts END) AS last_entry,
       MAX(CASE WHEN name = 'program.converted' THEN ts END) AS last_conversion,
       COUNT(DISTINCT CASE
         WHEN name = 'program.entered' AND ts >= CAST(:ts_recent AS TIMESTAMP) THEN execution
       END) AS recent_entries,
       COUNT(DISTINCT CASE
         WHEN name = 'program.converted' AND ts >= CAST(:ts_recent AS TIMESTAMP) THEN execution
       END) AS recent_conversions
FROM acts
WHERE program_id IS NOT NULL
GROUP BY program_id
ORDER BY program_id
