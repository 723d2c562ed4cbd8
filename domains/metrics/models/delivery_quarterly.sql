-- Quarterly delivery per team and kind of work, from engineering.delivery_metrics'
-- weeks, next to the same quarter a year earlier. A week counts in the quarter its
-- Monday falls in (as in revenue_engagement_weekly); work without a team counts under
-- 'unassigned' so it is never dropped from the totals.
WITH quarterly AS (
    SELECT
        CAST(date_trunc('quarter', week) AS DATE)   AS quarter_start,
        scope_kind,
        coalesce(team, 'unassigned')                AS team,
        sum(items_completed)                        AS items_completed,
        count(DISTINCT week)                        AS active_weeks,
        count(DISTINCT scope)                       AS scopes,
        max(last_completed_at)                      AS last_completed_at
    FROM engineering.delivery_metrics
    GROUP BY 1, 2, 3
)
SELECT
    q.quarter_start,
    q.scope_kind,
    q.team,
    q.items_completed,
    q.active_weeks,
    q.scopes,
    y.items_completed                                            AS items_completed_last_year,
    CASE WHEN y.items_completed > 0
         THEN round((q.items_completed - y.items_completed) * 100.0 / y.items_completed, 1) END AS yoy_change_pct,
    q.last_completed_at
FROM quarterly AS q
LEFT JOIN quarterly AS y
    ON y.scope_kind = q.scope_kind AND y.team = q.team
   AND y.quarter_start = CAST(q.quarter_start - INTERVAL 1 YEAR AS DATE)
