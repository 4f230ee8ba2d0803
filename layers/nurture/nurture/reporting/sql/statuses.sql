-- Campaign membership statuses: each contact's furthest status in a program
-- (entered < sent < opened < clicked < converted) among runs entered in [ts_from, ts_to).
-- Every figure counts distinct runs, so a row a retried batch wrote twice counts once.
WITH acts AS (
  SELECT * FROM activities AS a WHERE a.dt >= :dt_from AND a.program_id = :program
),
runs AS (
  SELECT DISTINCT execution, contact_id
  FROM acts
  WHERE name = 'program.entered'
    AND ts >= CAST(:ts_from AS TIMESTAMP) AND ts < CAST(:ts_to AS TIMESTAMP)
),
ranked AS (
  SELECT r.contact_id,
         MAX(CASE a.name
               WHEN 'program.converted' THEN 5
               WHEN 'email.clicked' THEN 4
               WHEN 'email.opened' THEN 3
               WHEN 'email.sent' THEN 2
               WHEN 'sms.sent' THEN 2
               ELSE 1
             END) AS rank_no,
         MAX(a.ts) AS last_activity
  FROM runs AS r
  JOIN acts AS a ON a.execution = r.execution
  GROUP BY r.contact_id
)
SELECT contact_id,
       CASE rank_no
         WHEN 5 THEN 'converted' WHEN 4 THEN 'clicked' WHEN 3 THEN 'opened'
         WHEN 2 THEN 'sent' ELSE 'entered'
       END AS status,
       rank_no,
       last_activity
FROM ranked
ORDER BY rank_no DESC, contact_id
