-- Pipeline: per week and source (the channel of the touch that created the contact), how
-- many contacts were created and reached lead, MQL, SQL and customer; and speed to lead
-- (`lead.accepted` response times) per week.
, origin AS (
  SELECT m.contact_id, MAX_BY(t.channel, t.ts) AS channel
  FROM milestones AS m
  JOIN touches AS t
    ON t.contact_id = m.contact_id AND t.ts <= m.created_at
   AND DATE_DIFF('second', t.ts, m.created_at) <= :lookback_seconds
  GROUP BY m.contact_id
),
moves AS (
  SELECT DISTINCT id, contact_id, ts,
         CASE
           WHEN name = 'contact.identified' AND created THEN 'new_contacts'
           WHEN name = 'contact.stage_changed' AND stage_to = 'lead' THEN 'leads'
           WHEN name = 'contact.stage_changed' AND stage_to = 'mql' THEN 'mqls'
           WHEN name = 'contact.stage_changed' AND stage_to = 'sql' THEN 'sqls'
           WHEN name = 'contact.stage_changed' AND stage_to = 'customer' THEN 'customers'
         END AS metric,
         CASE WHEN name = 'lead.accepted' THEN response_seconds END AS response_seconds
  FROM resolved
  WHERE contact_id IS NOT NULL
    AND ts >= CAST(:ts_from AS TIMESTAMP) AND ts < CAST(:ts_to AS TIMESTAMP)
    AND (name IN ('contact.identified', 'contact.stage_changed', 'lead.accepted'))
)
SELECT CAST(DATE_TRUNC('week', mv.ts) AS DATE) AS week,
       COALESCE(o.channel, '(direct)') AS source,
       COUNT(DISTINCT CASE WHEN mv.metric = 'new_contacts' THEN mv.contact_id END) AS new_contacts,
       COUNT(DISTINCT CASE WHEN mv.metric = 'leads' THEN mv.contact_id END) AS leads,
       COUNT(DISTINCT CASE WHEN mv.metric = 'mqls' THEN mv.contact_id END) AS mqls,
       COUNT(DISTINCT CASE WHEN mv.metric = 'sqls' THEN mv.contact_id END) AS sqls,
       COUNT(DISTINCT CASE WHEN mv.metric = 'customers' THEN mv.contact_id END) AS customers,
       COUNT(mv.response_seconds) AS leads_accepted,
       AVG(mv.response_seconds) AS avg_response_seconds
FROM moves AS mv
LEFT JOIN origin AS o ON o.contact_id = mv.contact_id
GROUP BY CAST(DATE_TRUNC('week', mv.ts) AS DATE), COALESCE(o.channel, '(direct)')
ORDER BY week, source
