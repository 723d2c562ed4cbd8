-- One row per company record of each source system (HubSpot, Crunchbase, Pendo, GitHub) with its global company id. The id
-- comes from the shared company_gid macro over the record's website domain, so records
-- of different systems that name one domain get one id. Records are never merged: two
-- records of one system with one id (a company entered twice) both stay, and
-- same_source_records > 1 flags them for the owning team to resolve.
WITH records AS (
    SELECT 'hubspot' AS source_system, company_id AS source_id, name AS source_name,
           web_domain AS source_domain, company_gid, updated_at
    FROM marketing.crm_companies
    UNION ALL
    SELECT 'crunchbase', organization_id, name, website_url, company_gid, updated_at
    FROM market_intelligence.organizations
    UNION ALL
    -- Pendo's own accounts, not product.account_usage_daily: that port only holds the
    -- accounts with usage, and not their domain.
    SELECT 'pendo', account_id, name, domain, company_gid(domain), last_updated_at
    FROM pendo.accounts
    WHERE account_id IS NOT NULL
    UNION ALL
    -- GitHub organisations: the owner of our repositories and the organisations that
    -- fork them. Their blog is free text ("acme.example", "https://www.acme.example/");
    -- the shared macro normalises it like every other website.
    SELECT 'github', CAST(id AS VARCHAR), coalesce(name, login), blog, company_gid(blog), updated_at
    FROM github.organizations
    WHERE id IS NOT NULL
),
per_gid AS (
    SELECT company_gid, count(DISTINCT source_system) AS sources
    FROM records
    WHERE company_gid IS NOT NULL
    GROUP BY company_gid
),
per_source_gid AS (
    SELECT source_system, company_gid, count(*) AS records
    FROM records
    WHERE company_gid IS NOT NULL
    GROUP BY source_system, company_gid
)
SELECT
    r.source_system,
    r.source_id,
    r.source_name,
    nullif(trim(r.source_domain), '')        AS source_domain,
    web_domain(r.source_domain)              AS web_domain,
    r.company_gid,
    coalesce(g.sources, 0)                   AS matched_sources,
    coalesce(s.records, 0)                   AS same_source_records,
    CASE WHEN r.company_gid IS NULL THEN 'no_domain'
         WHEN g.sources > 1 THEN 'matched'
         ELSE 'no_partner' END               AS match_status,
    r.updated_at
FROM records AS r
LEFT JOIN per_gid AS g ON g.company_gid = r.company_gid
LEFT JOIN per_source_gid AS s ON s.source_system = r.source_system AND s.company_gid = r.company_gid
