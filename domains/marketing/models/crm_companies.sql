-- One row per live HubSpot company. web_domain is the domain as typed, normalised by
-- the mesh-wide web_domain macro (lower case, no scheme, www., port or path), and
-- company_gid is the global company id derived from it, so other domains match on it.
SELECT
    id                                   AS company_id,
    name,
    web_domain(domain)                   AS web_domain,
    industry,
    number_of_employees                  AS employees,
    annual_revenue,
    country,
    created_at,
    coalesce(last_modified_at, updated_at) AS updated_at,
    company_gid(domain)                  AS company_gid
FROM hubspot.companies
WHERE NOT coalesce(archived, false)
