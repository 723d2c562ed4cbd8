-- Weekly revenue and engagement per company, joined across domains on the global
-- company id: deals from marketing, product usage from the product domain, signups
-- and engagement on the platform from the platform domain, and firmographics from
-- market intelligence. Weeks are ISO weeks (Monday to Sunday, UTC dates); a week
-- belongs to the quarter its Monday falls in. A row exists for each week a company
-- won a deal, had an open deal expected to close, used the product (Pendo), or signed
-- up or engaged on the platform.
WITH deals AS (
    SELECT
        company_gid,
        CAST(date_trunc('week', CAST(close_date AS DATE)) AS DATE) AS week_start,
        sum(amount) FILTER (WHERE is_won)                          AS won_amount,
        count(*) FILTER (WHERE is_won)                             AS won_deals,
        sum(amount) FILTER (WHERE NOT is_closed)                   AS open_pipeline_amount,
        count(*) FILTER (WHERE NOT is_closed)                      AS open_deals
    FROM marketing.crm_deals
    WHERE company_gid IS NOT NULL AND close_date IS NOT NULL AND (is_won OR NOT is_closed)
    GROUP BY ALL
),
usage AS (
    SELECT
        company_gid,
        CAST(date_trunc('week', usage_date) AS DATE) AS week_start,
        sum(events)                                  AS events,
        sum(minutes)                                 AS minutes,
        max(visitors)                                AS max_daily_visitors,
        count(DISTINCT usage_date)                   AS active_days
    FROM product.account_usage_daily
    WHERE company_gid IS NOT NULL
    GROUP BY ALL
),
platform_signups AS (
    SELECT
        company_gid,
        CAST(date_trunc('week', signup_date) AS DATE) AS week_start,
        sum(signups)                                  AS signups
    FROM platform.signups_daily
    WHERE company_gid IS NOT NULL
    GROUP BY ALL
),
platform_daily AS (
    -- A user belongs to one account, so the active users of a company's accounts add up.
    SELECT company_gid, activity_date, sum(engagements) AS engagements,
           sum(engaged_seconds) AS engaged_seconds, sum(active_users) AS active_users
    FROM platform.engagement_daily
    WHERE company_gid IS NOT NULL
    GROUP BY ALL
),
platform_engagement AS (
    SELECT
        company_gid,
        CAST(date_trunc('week', activity_date) AS DATE) AS week_start,
        sum(engagements)                                AS platform_engagements,
        sum(engaged_seconds)                            AS platform_engaged_seconds,
        max(active_users)                               AS platform_max_daily_active_users
    FROM platform_daily
    GROUP BY ALL
),
web AS (
    SELECT
        CAST(date_trunc('week', date) AS DATE) AS week_start,
        sum(sessions)                          AS site_sessions,
        sum(conversions)                       AS site_conversions
    FROM marketing.web_traffic
    GROUP BY ALL
),
orgs AS (
    -- One organization per company; should two share a domain, the most recently
    -- updated one speaks for it.
    SELECT
        company_gid,
        arg_max(name, updated_at)              AS organization_name,
        arg_max(funding_total_usd, updated_at) AS funding_total_usd,
        arg_max(last_funding_type, updated_at) AS last_funding_type,
        arg_max(employees_range, updated_at)   AS employees_range
    FROM market_intelligence.organizations
    WHERE company_gid IS NOT NULL
    GROUP BY company_gid
),
weekly AS (
    SELECT
        week_start,
        company_gid,
        coalesce(d.won_amount, 0)           AS won_amount,
        coalesce(d.won_deals, 0)            AS won_deals,
        coalesce(d.open_pipeline_amount, 0) AS open_pipeline_amount,
        coalesce(d.open_deals, 0)           AS open_deals,
        coalesce(u.events, 0)               AS events,
        coalesce(u.minutes, 0)              AS minutes,
        coalesce(u.max_daily_visitors, 0)   AS max_daily_visitors,
        coalesce(u.active_days, 0)          AS active_days,
        coalesce(s.signups, 0)              AS signups,
        coalesce(e.platform_engagements, 0) AS platform_engagements,
        coalesce(e.platform_engaged_seconds, 0)        AS platform_engaged_seconds,
        coalesce(e.platform_max_daily_active_users, 0) AS platform_max_daily_active_users
    FROM deals AS d
    FULL OUTER JOIN usage AS u USING (week_start, company_gid)
    FULL OUTER JOIN platform_signups AS s USING (week_start, company_gid)
    FULL OUTER JOIN platform_engagement AS e USING (week_start, company_gid)
),
with_quarter AS (
    SELECT
        w.*,
        CAST(date_trunc('quarter', w.week_start) AS DATE) AS quarter_start,
        sum(w.won_amount) OVER (
            PARTITION BY w.company_gid, date_trunc('quarter', w.week_start)
            ORDER BY w.week_start ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS quarter_to_date_won_amount,
        isoyear(w.week_start) AS iso_year,
        weekofyear(w.week_start) AS iso_week
    FROM weekly AS w
)
SELECT
    q.week_start,
    q.company_gid,
    o.organization_name,
    q.won_amount,
    q.won_deals,
    q.open_pipeline_amount,
    q.open_deals,
    q.events,
    q.minutes,
    q.max_daily_visitors,
    q.active_days,
    o.funding_total_usd,
    o.last_funding_type,
    o.employees_range,
    web.site_sessions,
    web.site_conversions,
    q.quarter_start,
    q.quarter_to_date_won_amount,
    ly.won_amount                       AS won_amount_last_year,
    q.won_amount - ly.won_amount        AS won_amount_yoy_change,
    ly.events                           AS events_last_year,
    q.events - ly.events                AS events_yoy_change,
    q.signups,
    q.platform_engagements,
    q.platform_engaged_seconds,
    q.platform_max_daily_active_users
FROM with_quarter AS q
LEFT JOIN with_quarter AS ly
    ON ly.company_gid = q.company_gid AND ly.iso_year = q.iso_year - 1 AND ly.iso_week = q.iso_week
LEFT JOIN orgs AS o ON o.company_gid = q.company_gid
LEFT JOIN web ON web.week_start = q.week_start
