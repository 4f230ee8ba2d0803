-- Program funnel: the runs that entered a program in [ts_from, ts_to), per version, and
-- what happened in them (any time after), as (version, step_id, metric, detail, runs).
-- Every figure counts distinct runs, so a row a retried batch wrote twice counts once.
WITH acts AS (
  SELECT * FROM activities AS a WHERE a.dt >= :dt_from AND a.program_id = :program
),
runs AS (
  SELECT execution, MIN(version) AS version
  FROM acts
  WHERE name = 'program.entered'
    AND ts >= CAST(:ts_from AS TIMESTAMP) AND ts < CAST(:ts_to AS TIMESTAMP)
  GROUP BY execution
),
in_runs AS (
  SELECT r.version, a.execution, a.name, a.step_id, a.reason, a.goal, a.variant
  FROM acts AS a
  JOIN runs AS r ON r.execution = a.execution
),
facts AS (
  SELECT version, CAST(NULL AS VARCHAR) AS step_id, 'entered' AS metric,
         CAST(NULL AS VARCHAR) AS detail, execution
  FROM runs
  UNION ALL
  SELECT version, step_id, 'reached', NULL, execution
  FROM in_runs WHERE step_id IS NOT NULL
  UNION ALL
  SELECT version, step_id,
         CASE name
           WHEN 'email.sent' THEN 'sent' WHEN 'sms.sent' THEN 'sent'
           WHEN 'email.delivered' THEN 'delivered' WHEN 'email.opened' THEN 'opened'
           WHEN 'email.clicked' THEN 'clicked'
         END,
         NULL, execution
  FROM in_runs
  WHERE name IN ('email.sent', 'sms.sent', 'email.delivered', 'email.opened', 'email.clicked')
  UNION ALL
  SELECT version, step_id, 'skipped', COALESCE(reason, 'unknown'), execution
  FROM in_runs WHERE name IN ('email.skipped', 'sms.skipped', 'email.failed', 'sms.failed')
  UNION ALL
  SELECT version, step_id, 'variant', variant, execution
  FROM in_runs WHERE name = 'program.split'
  UNION ALL
  SELECT version, NULL, 'converted', goal, execution
  FROM in_runs WHERE name = 'program.converted'
  UNION ALL
  SELECT version, step_id, 'exited', COALESCE(reason, name), execution
  FROM in_runs WHERE name IN ('program.exited', 'program.stopped')
)
SELECT version, step_id, metric, detail, COUNT(DISTINCT execution) AS runs
FROM facts
GROUP BY version, step_id, metric, detail
ORDER BY version, step_id, metric, detail
