-- Runs per program since :dt_from: entered, exited (any reason) and finished; a program's
-- running runs are those entered and not exited. Distinct executions: a row a retried batch
-- wrote twice counts once.
SELECT program_id,
       COUNT(DISTINCT CASE WHEN name = 'program.entered' THEN execution END) AS entered,
       COUNT(DISTINCT CASE WHEN name = 'program.exited' THEN execution END) AS exited,
       COUNT(DISTINCT CASE WHEN name = 'program.exited' AND reason = 'finished'
                      THEN execution END) AS completed
FROM activities AS a
WHERE a.dt >= :dt_from AND a.program_id IS NOT NULL
  AND a.name IN ('program.entered', 'program.exited')
GROUP BY program_id
ORDER BY program_id
