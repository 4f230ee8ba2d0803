-- Attribution: each revenue event in [ts_from, ts_to) credited to the contact's touches in
-- the lookback window before it, under every model at once; summed per program, campaign,
-- channel and content. Revenue without any touch is credited to channel '(direct)', so
-- each model's credits add up to the revenue. One window pass per revenue event: a touch's
-- position, the number of touches, the milestones' positions (the lead-creation touch is
-- the last at or before the contact was created: its position is how many touches came
-- by then; the same for the MQL) and the time-decay weights' sum.
, revenue AS (
  SELECT DISTINCT id AS revenue_id, contact_id, ts AS revenue_ts, revenue AS amount
  FROM resolved
  WHERE revenue IS NOT NULL AND contact_id IS NOT NULL
    AND ts >= CAST(:ts_from AS TIMESTAMP) AND ts < CAST(:ts_to AS TIMESTAMP)
),
paths AS (
  SELECT r.revenue_id, r.amount, t.channel, t.program, t.campaign, t.content,
         row_number() OVER (PARTITION BY r.revenue_id ORDER BY t.ts, t.id) AS pos,
         COUNT(*) OVER (PARTITION BY r.revenue_id) AS n,
         SUM(CASE WHEN t.ts <= m.created_at THEN 1 ELSE 0 END)
           OVER (PARTITION BY r.revenue_id) AS lead_pos,
         SUM(CASE WHEN t.ts <= m.mql_at THEN 1 ELSE 0 END)
           OVER (PARTITION BY r.revenue_id) AS mql_pos,
         POWER(2.0, -1.0 * DATE_DIFF('second', t.ts, r.revenue_ts) / :half_life_seconds) AS w_decay,
         SUM(POWER(2.0, -1.0 * DATE_DIFF('second', t.ts, r.revenue_ts) / :half_life_seconds))
           OVER (PARTITION BY r.revenue_id) AS decay_total
  FROM revenue AS r
  JOIN touches AS t
    ON t.contact_id = r.contact_id AND t.ts <= r.revenue_ts
   AND DATE_DIFF('second', t.ts, r.revenue_ts) <= :lookback_seconds
  LEFT JOIN milestones AS m ON m.contact_id = r.contact_id
),
shaped AS (
  -- W-shaped: 30% per milestone role (first touch, lead creation, MQL) a touch plays, 10%
  -- shared by the touches that play none; scaled by the total so it adds up to 1.
  SELECT p.*,
         0.3 * (1 + CASE WHEN lead_pos > 0 THEN 1 ELSE 0 END
                  + CASE WHEN mql_pos > 0 THEN 1 ELSE 0 END) AS roles_total,
         1 + CASE WHEN lead_pos > 1 THEN 1 ELSE 0 END
           + CASE WHEN mql_pos > 1 AND mql_pos <> lead_pos THEN 1 ELSE 0 END AS milestone_touches,
         0.3 * (CASE WHEN pos = 1 THEN 1 ELSE 0 END
                + CASE WHEN pos = lead_pos THEN 1 ELSE 0 END
                + CASE WHEN pos = mql_pos THEN 1 ELSE 0 END) AS w_roles
  FROM paths AS p
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
         amount * (CASE
                     WHEN w_roles > 0 THEN w_roles
                     ELSE 0.1 / (n - milestone_touches)
                   END)
                / (roles_total + CASE WHEN n > milestone_touches THEN 0.1 ELSE 0 END) AS w_shaped,
         amount * w_decay / decay_total AS time_decay
  FROM shaped
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
