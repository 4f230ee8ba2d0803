-- (shared by the contact-level reports; nurture.reporting.queries puts it first)
-- acts: the lake's rows from dt_from on that these reports read (touches, identities,
-- milestones, revenue). A retried batch may have written a row twice: what is counted or
-- summed is kept DISTINCT by activity id (touches, revenue), the rest is MIN/MAX/DISTINCT
-- and so the same either way. ids: which contact each actor key belongs to (anonymous
-- visits before a form are joined through `contact.identified`). touches: the activities
-- that can earn credit, with their channel, campaign, program and content.
WITH acts AS (
  SELECT * FROM activities AS a
  WHERE a.dt >= :dt_from
    AND (a.kind IN ('page', 'form', 'track') OR a.revenue IS NOT NULL
         OR a.name IN ('email.clicked', 'contact.identified', 'contact.stage_changed',
                       'lead.accepted'))
),
ids AS (
  SELECT t.actor AS actor, MIN(i.contact_id) AS contact_id
  FROM acts AS i
  CROSS JOIN UNNEST(i.actors) AS t(actor)
  WHERE i.name = 'contact.identified'
  GROUP BY t.actor
),
resolved AS (
  -- what the system recorded names the contact; what a visitor did is joined by actor key
  SELECT a.id, a.kind, a.name, a.ts, a.contact_id AS contact_id,
         a.program_id, a.step_id, a.utm_source, a.utm_medium, a.utm_campaign, a.utm_content,
         a.referrer_host, a.url_host, a.revenue, a.created, a.stage_to, a.source,
         a.response_seconds
  FROM acts AS a
  WHERE a.contact_id IS NOT NULL
  UNION ALL
  SELECT a.id, a.kind, a.name, a.ts, ids.contact_id AS contact_id,
         a.program_id, a.step_id, a.utm_source, a.utm_medium, a.utm_campaign, a.utm_content,
         a.referrer_host, a.url_host, a.revenue, a.created, a.stage_to, a.source,
         a.response_seconds
  FROM acts AS a
  JOIN ids ON ids.actor = a.actor
  WHERE a.contact_id IS NULL
),
touches AS (
  SELECT DISTINCT id, contact_id, ts,
         CASE
           WHEN name = 'email.clicked' THEN 'email'
           WHEN kind = 'form' THEN 'form'
           WHEN utm_campaign IS NOT NULL THEN COALESCE(utm_medium, 'campaign')
           ELSE 'referral'
         END AS channel,
         CASE WHEN name = 'email.clicked' THEN program_id END AS program,
         CASE WHEN name = 'email.clicked' THEN program_id ELSE utm_campaign END AS campaign,
         CASE
           WHEN name = 'email.clicked' THEN step_id
           WHEN kind = 'form' THEN name
           WHEN utm_campaign IS NOT NULL THEN COALESCE(utm_content, utm_campaign)
           ELSE referrer_host
         END AS content
  FROM resolved
  WHERE contact_id IS NOT NULL
    AND (
      name = 'email.clicked'
      OR kind = 'form'
      OR (kind IN ('page', 'track') AND utm_campaign IS NOT NULL)
      OR (kind = 'page' AND referrer_host IS NOT NULL AND referrer_host <> COALESCE(url_host, ''))
    )
),
milestones AS (
  SELECT contact_id,
         MIN(CASE WHEN name = 'contact.identified' AND created THEN ts END) AS created_at,
         MIN(CASE WHEN name = 'contact.stage_changed' AND stage_to = 'mql' THEN ts END) AS mql_at
  FROM resolved
  WHERE contact_id IS NOT NULL
  GROUP BY contact_id
)
