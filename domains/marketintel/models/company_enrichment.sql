-- One row per web domain the mesh asked People Data Labs about, with the company PDL
-- matched (or none). company_gid comes from the domain asked, with the same macro every
-- domain uses, so the row joins marketing.crm_companies and identity.company_ids.
SELECT
    requested_domain                        AS web_domain,
    company_gid(requested_domain)           AS company_gid,
    status = 200                            AS matched,
    CASE WHEN status = 200 THEN likelihood END AS likelihood,
    id                                      AS pdl_id,
    name,
    website,
    web_domain(website) IS DISTINCT FROM requested_domain AND status = 200 AS website_differs,
    size                                    AS employee_range,
    employee_count,
    founded                                 AS founded_year,
    industry,
    country,
    locality,
    type                                    AS company_type,
    ticker,
    total_funding_raised                    AS total_funding_usd,
    latest_funding_stage,
    TRY_CAST(last_funding_date AS DATE)     AS last_funding_date,
    _extracted_at                           AS pulled_at
FROM peopledatalabs.company_enrichment
