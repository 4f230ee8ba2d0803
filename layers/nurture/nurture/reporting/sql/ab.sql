-- A/B/n: per split step and variant, the runs that went that way in [ts_from, ts_to), how
-- many of them reached the program's goal, and how many clicked an email after the split.
-- Every figure counts distinct runs, so a row a retried batch wrote twice counts once.
WITH acts AS (
  SELECT * FROM activities AS a WHERE a.dt >= :dt_from AND a.program_id = :program
),
splits AS (
  SELECT step_id, variant, execution, MIN(ts) AS ts
  FROM acts
  WHERE name = 'program.split'
    AND ts >= CAST(:ts_from AS TIMESTAMP) AND ts < CAST(:ts_to AS TIMESTAMP)
  GROUP BY step_id, variant, execution
),
converted AS (
  SELECT DISTINCT execution FROM acts WHERE name = 'program.converted'
),
clicked AS (
  SELECT execution, MAX(ts) AS ts FROM acts WHERE name = 'email.clicked' GROUP BY execution
)
SELECT s.step_id, s.variant,
       COUNT(*) AS entrants,
       COUNT(c.execution) AS conversions,
       COUNT(k.execution) AS clickers,
       MIN(s.ts) AS first_entry,
       MAX(s.ts) AS last_entry
FROM splits AS s
LEFT JOIN converted AS c ON c.execution = s.execution
LEFT JOIN clicked AS k ON k.execution = s.execution AND k.ts >= s.ts
GROUP BY s.step_id, s.variant
ORDER BY s.step_id, s.variant
