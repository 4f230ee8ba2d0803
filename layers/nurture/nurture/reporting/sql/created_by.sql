-- Which touch created the contact: for contacts created in [ts_from, ts_to), the last touch
-- at or before their creation within the lookback window ('(direct)' when there was none).
, created AS (
  SELECT contact_id, created_at
  FROM milestones
  WHERE created_at >= CAST(:ts_from AS TIMESTAMP) AND created_at < CAST(:ts_to AS TIMESTAMP)
),
ranked AS (
  SELECT c.contact_id, t.channel, t.program, t.campaign, t.content,
         row_number() OVER (PARTITION BY c.contact_id ORDER BY t.ts DESC, t.id DESC) AS recency
  FROM created AS c
  LEFT JOIN touches AS t
    ON t.contact_id = c.contact_id AND t.ts <= c.created_at
   AND DATE_DIFF('second', t.ts, c.created_at) <= :lookback_seconds
)
SELECT COALESCE(channel, '(direct)') AS channel, program, campaign, content,
       COUNT(*) AS contacts
FROM ranked
WHERE recency = 1
GROUP BY COALESCE(channel, '(direct)'), program, campaign, content
ORDER BY contacts DESC, channel, campaign, content
