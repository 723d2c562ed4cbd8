-- The talent funnel per account and stage, over the candidates the database holds
-- now: a candidate's stage is the furthest they reached, so they count as having
-- reached every stage up to it; rejected ones stop there.
WITH stages AS (
    SELECT * FROM (VALUES (1, 'sourced'), (2, 'contacted'), (3, 'replied'),
                          (4, 'interviewed'), (5, 'offered'), (6, 'hired')) AS s(stage_order, stage)
),
candidates AS (
    SELECT t.account_id, t.rejected, s.stage_order
    FROM platform_db.talent_sourcing AS t
    JOIN stages AS s ON s.stage = t.stage
),
funnel AS (
    SELECT
        a.account_id,
        s.stage,
        s.stage_order,
        count(c.stage_order) FILTER (WHERE c.stage_order = s.stage_order AND NOT c.rejected) AS in_stage,
        count(c.stage_order) FILTER (WHERE c.stage_order >= s.stage_order)                  AS reached,
        count(c.stage_order) FILTER (WHERE c.stage_order = s.stage_order AND c.rejected)     AS rejected
    FROM (SELECT DISTINCT account_id FROM candidates) AS a
    CROSS JOIN stages AS s
    LEFT JOIN candidates AS c ON c.account_id = a.account_id
    GROUP BY ALL
)
SELECT
    f.account_id,
    company_gid(a.web_domain) AS company_gid,
    f.stage,
    f.stage_order,
    f.in_stage,
    f.reached,
    f.rejected,
    CAST(f.reached AS DOUBLE) / nullif(lag(f.reached) OVER (PARTITION BY f.account_id ORDER BY f.stage_order), 0)
        AS conversion_from_previous
FROM funnel AS f
LEFT JOIN platform_db.accounts AS a ON a.account_id = f.account_id
