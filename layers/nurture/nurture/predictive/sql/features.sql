-- The features and the outcome of each contact (after _population.sql).
, outcomes AS (
  -- becoming a customer (an order, a CRM deal won) or an opportunity (stage sql/customer)
  SELECT r.contact_id,
         MIN(CASE WHEN r.ts < p.cutoff THEN r.ts END) AS converted_before,
         MIN(CASE WHEN r.ts >= p.cutoff THEN r.ts END) AS converted_at
  FROM resolved AS r
  JOIN population AS p ON p.contact_id = r.contact_id
  WHERE r.name IN ('Order Completed', 'order_completed', 'Deal Won', 'deal_won', 'crm.deal_won')
     OR (r.name = 'contact.stage_changed' AND r.stage_to IN ('sql', 'customer'))
  GROUP BY r.contact_id
),
facts AS (
  SELECT f.contact_id, f.kind, f.name, f.program_id,
         DATE_DIFF('second', f.ts, p.cutoff) / 86400.0 AS age_days,
         CAST(f.ts AS DATE) AS day,
         CASE
           WHEN f.kind <> 'page' THEN NULL
           WHEN f.url LIKE '%/pricing%' THEN 'pricing'
           WHEN f.url LIKE '%/solutions/%' THEN 'solution'
           WHEN f.url LIKE '%/case-studies/%' THEN 'case_study'
           WHEN f.url LIKE '%/blog/%' THEN 'blog'
           WHEN f.url LIKE '%/careers%' THEN 'careers'
           WHEN f.url LIKE '%/docs/%' THEN 'docs'
           ELSE 'other'
         END AS category
  FROM resolved AS f
  JOIN population AS p ON p.contact_id = f.contact_id
  WHERE f.ts < p.cutoff
    AND f.ts >= p.cutoff - :window_days * INTERVAL '1' DAY
),
behaviour AS (
  SELECT contact_id,
         COUNT(*) FILTER (WHERE category = 'pricing') AS pricing_views,
         COUNT(*) FILTER (WHERE category = 'pricing' AND age_days < 14) AS pricing_views_14d,
         MIN(CASE WHEN category = 'pricing' THEN age_days END) AS days_since_pricing,
         COUNT(*) FILTER (WHERE category = 'solution') AS solution_views,
         COUNT(*) FILTER (WHERE category = 'case_study') AS case_study_views,
         COUNT(*) FILTER (WHERE category = 'blog') AS blog_views,
         COUNT(*) FILTER (WHERE category = 'careers') AS careers_views,
         COUNT(*) FILTER (WHERE category = 'docs') AS docs_views,
         COUNT(*) FILTER (WHERE category = 'other') AS other_views,
         COUNT(*) FILTER (WHERE kind = 'page' AND age_days < 14) AS page_views_14d,
         COUNT(*) FILTER (WHERE kind = 'form' AND (name LIKE '%guide%' OR name LIKE '%download%'))
           AS guide_downloads,
         COUNT(*) FILTER (WHERE kind = 'form' AND name LIKE '%event%') AS event_registrations,
         COUNT(*) FILTER (WHERE kind = 'form') AS forms,
         COUNT(*) FILTER (WHERE name IN ('demo_requested', 'Demo Requested', 'demo.requested'))
           AS demo_requests,
         COUNT(*) FILTER (WHERE kind = 'track') AS tracked_events,
         COUNT(*) FILTER (WHERE name = 'email.opened') AS email_opens,
         COUNT(*) FILTER (WHERE name = 'email.opened' AND program_id = 'newsletter')
           AS newsletter_opens,
         COUNT(*) FILTER (WHERE name = 'email.clicked') AS email_clicks,
         COUNT(DISTINCT CASE WHEN kind = 'page' THEN day END) AS active_days,
         MIN(age_days) AS days_since_active
  FROM facts
  GROUP BY contact_id
)
SELECT p.contact_id,
       CAST(p.created_at AS VARCHAR) AS created_at,
       CAST(p.cutoff AS VARCHAR) AS cutoff,
       DATE_DIFF('second', p.created_at, p.cutoff) / 86400.0 AS days_known,
       o.converted_before IS NOT NULL AS converted_before,
       CASE
         WHEN o.converted_at IS NOT NULL
          AND o.converted_at < p.cutoff + :horizon_days * INTERVAL '1' DAY THEN 1
         ELSE 0
       END AS label,
       p.cutoff + :horizon_days * INTERVAL '1' DAY <= CAST(:as_of AS TIMESTAMP) AS horizon_passed,
       COALESCE(b.pricing_views, 0) AS pricing_views,
       COALESCE(b.pricing_views_14d, 0) AS pricing_views_14d,
       b.days_since_pricing,
       COALESCE(b.solution_views, 0) AS solution_views,
       COALESCE(b.case_study_views, 0) AS case_study_views,
       COALESCE(b.blog_views, 0) AS blog_views,
       COALESCE(b.careers_views, 0) AS careers_views,
       COALESCE(b.docs_views, 0) AS docs_views,
       COALESCE(b.other_views, 0) AS other_views,
       COALESCE(b.page_views_14d, 0) AS page_views_14d,
       COALESCE(b.guide_downloads, 0) AS guide_downloads,
       COALESCE(b.event_registrations, 0) AS event_registrations,
       COALESCE(b.forms, 0) AS forms,
       COALESCE(b.demo_requests, 0) AS demo_requests,
       COALESCE(b.tracked_events, 0) AS tracked_events,
       COALESCE(b.email_opens, 0) AS email_opens,
       COALESCE(b.newsletter_opens, 0) AS newsletter_opens,
       COALESCE(b.email_clicks, 0) AS email_clicks,
       COALESCE(b.active_days, 0) AS active_days,
       b.days_since_active,
       c.job_title, c.country AS contact_country, c.email_domain,
       ac.industry, ac.employees, ac.country AS account_country
FROM population AS p
LEFT JOIN outcomes AS o ON o.contact_id = p.contact_id
LEFT JOIN behaviour AS b ON b.contact_id = p.contact_id
LEFT JOIN profiles AS c ON c.contact_id = p.contact_id
LEFT JOIN accounts AS ac ON ac.account_id = c.account_id
ORDER BY p.cutoff, p.contact_id
