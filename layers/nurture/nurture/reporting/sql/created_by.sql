-- Which touch created the contact: for contacts created in [ts_from, ts_to), the last touch
-- at or before their creation within the lookback window ('(direct)' when there was none).
, created AS (
  SELECT contact_id, created_at
  FROM milestones
  WHERE created_at >= CAST(:ts_from AS TIMESTAMP) AND created_at < CAST(:ts_to AS TIMESTAMP)
),
creating AS (
  SELECT c.contact_id, MAX_BY(t.id, t.ts) AS touch_id
  FROM created AS c
  LEFT JOIN touches AS t
    ON t.contact_id = c.contact_id AND t.ts <= c.created_at
   AND DATE_DIFF('second', t.ts, c.created_at) <= :lookback_seconds
  GROUP BY c.contact_id
)
SELECT COALESCE(t.channel, '(direct)') AS channel, t.program, t.campaign, t.content,
       COUNT(*) AS contacts
FROM creating AS c
LEFT JOIN touches AS t ON t.id = c.touch_id
GROUP BY COALESCE(t.channel, '(direct)'), t.program, t.campaign, t.content
ORDER BY contacts DESC, channel, campaign, content
