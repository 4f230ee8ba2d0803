-- Attribution: each revenue event in [ts_from, ts_to) credited to the contact's touches in
-- the lookback window before it, under every model at once; summed per program, campaign,
-- channel and content. Revenue without any touch is credited to channel '(direct)', so
-- each model's credits add up to the revenue.
, revenue AS (
  SELECT DISTINCT id AS revenue_id, contact_id, ts AS revenue_ts, revenue AS amount
  FROM resolved
  WHERE revenue IS NOT NULL AND contact_id IS NOT NULL
    AND ts >= CAST(:ts_from AS TIMESTAMP) AND ts < CAST(:ts_to AS TIMESTAMP)
),
paths AS (
  SELECT r.revenue_id, r.amount, t.id AS touch_id, t.ts, t.channel, t.program, t.campaign,
         t.content,
         row_number() OVER (PARTITION BY r.revenue_id ORDER BY t.ts, t.id) AS pos,
         COUNT(*) OVER (PARTITION BY r.revenue_id) AS n,
         DATE_DIFF('second', t.ts, r.revenue_ts) AS age_s,
         m.created_at, m.mql_at
  FROM revenue AS r
  JOIN touches AS t
    ON t.contact_id = r.contact_id AND t.ts <= r.revenue_ts
   AND DATE_DIFF('second', t.ts, r.revenue_ts) <= :lookback_seconds
  LEFT JOIN milestones AS m ON m.contact_id = r.contact_id
),
marked AS (
  SELECT p.*,
         MAX(CASE WHEN p.created_at IS NOT NULL AND p.ts <= p.created_at THEN p.pos END)
           OVER (PARTITION BY p.revenue_id) AS lead_pos,
         MAX(CASE WHEN p.mql_at IS NOT NULL AND p.ts <= p.mql_at THEN p.pos END)
           OVER (PARTITION BY p.revenue_id) AS mql_pos
  FROM paths AS p
),
weighted AS (
  SELECT m.*,
         CASE WHEN pos = 1 OR pos = lead_pos OR pos = mql_pos THEN 1 ELSE 0 END AS milestone,
         0.3 * (CASE WHEN pos = 1 THEN 1 ELSE 0 END
                + CASE WHEN pos = lead_pos THEN 1 ELSE 0 END
                + CASE WHEN pos = mql_pos THEN 1 ELSE 0 END) AS w_roles,
         POWER(2.0, -1.0 * age_s / :half_life_seconds) AS w_decay
  FROM marked AS m
),
w_shaped AS (
  SELECT w.*,
         w_roles + CASE
           WHEN milestone = 0
             THEN 0.1 / (n - SUM(milestone) OVER (PARTITION BY revenue_id))
           ELSE 0
         END AS w_w
  FROM weighted AS w
),
credits AS (
  SELECT revenue_id, amount, channel, program, campaign, content,
         amount * CASE WHEN pos = 1 THEN 1 ELSE 0 END AS first_touch,
         amount * CASE WHEN pos = n THEN 1 ELSE 0 END AS last_touch,
         amount / n AS linear,
         amount * CASE
           WHEN n = 1 THEN 1.0
           WHEN n = 2 THEN 0.5
           WHEN pos = 1 OR pos = n THEN 0.4
           ELSE 0.2 / (n - 2)
         END AS u_shaped,
         amount * w_w / SUM(w_w) OVER (PARTITION BY revenue_id) AS w_shaped,
         amount * w_decay / SUM(w_decay) OVER (PARTITION BY revenue_id) AS time_decay
  FROM w_shaped
  UNION ALL
  SELECT revenue_id, amount, '(direct)', NULL, NULL, NULL,
         amount, amount, amount, amount, amount, amount
  FROM revenue AS r
  WHERE NOT EXISTS (SELECT 1 FROM paths AS p WHERE p.revenue_id = r.revenue_id)
)
SELECT channel, program, campaign, content,
       COUNT(DISTINCT revenue_id) AS orders,
       SUM(first_touch) AS first_touch, SUM(last_touch) AS last_touch, SUM(linear) AS linear,
       SUM(u_shaped) AS u_shaped, SUM(w_shaped) AS w_shaped, SUM(time_decay) AS time_decay
FROM credits
GROUP BY channel, program, campaign, content
ORDER BY channel, program, campaign, content
