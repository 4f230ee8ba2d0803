-- (shared: nurture.predictive.features puts it first) the contacts and their cutoffs.
-- Predictive scoring: one row per contact with its features AS OF its cutoff, and its
-- outcome after the cutoff. DuckDB dialect; nurture.predictive.features renders it for
-- Athena with sqlglot (like the reports).
--   :as_of          the end of the data ('YYYY-MM-DD HH:MM:SS'); nothing at or after it is read
--   :dt_from        the first lake day read (YYYY-MM-DD)
--   :observe_days   cutoff = when the contact became known + observe_days (capped at as_of);
--                   scoring live contacts passes a huge value: everyone's cutoff is as_of
--   :window_days    behaviour counts look this far back from the cutoff
--   :horizon_days   an outcome counts when it happens within this long after the cutoff
-- Feature columns read ONLY rows with ts < cutoff (f.ts < p.cutoff below): what happened
-- after the decision cannot leak in (tests/unit/test_predictive_features.py changes the
-- future and checks that no feature moves). Profile fields come from `profiles` and
-- `accounts` (the fit-only snapshot `nurture model train` exports; no names, emails, phones).
WITH acts AS (
  SELECT * FROM activities AS a
  WHERE a.dt >= :dt_from AND a.ts < CAST(:as_of AS TIMESTAMP)
),
ids AS (
  SELECT t.actor AS actor, MIN(i.contact_id) AS contact_id
  FROM acts AS i
  CROSS JOIN UNNEST(i.actors) AS t(actor)
  WHERE i.name = 'contact.identified'
  GROUP BY t.actor
),
resolved AS (
  -- one row per activity id (a retried batch may have written one twice); anonymous
  -- visits before the form belong to the contact the visitor became
  SELECT DISTINCT a.id, COALESCE(a.contact_id, ids.contact_id) AS contact_id, a.kind, a.name,
         a.ts, a.url, a.program_id, a.stage_to, a.created
  FROM acts AS a
  LEFT JOIN ids ON ids.actor = a.actor
  WHERE COALESCE(a.contact_id, ids.contact_id) IS NOT NULL
),
known AS (
  SELECT contact_id, MIN(ts) AS created_at
  FROM resolved
  WHERE name = 'contact.identified' AND created
  GROUP BY contact_id
),
population AS (
  SELECT contact_id, created_at,
         LEAST(created_at + :observe_days * INTERVAL '1' DAY, CAST(:as_of AS TIMESTAMP)) AS cutoff
  FROM known
)
