-- One row per live HubSpot company. web_domain is the domain as typed, normalised
-- (lower case, no scheme, no www., no path) so other domains can match on it.
SELECT
    id                                   AS company_id,
    name,
    nullif(regexp_replace(lower(trim(domain)), '^(https?://)?(www\.)?([^/]*).*$', '\3'), '') AS web_domain,
    industry,
    number_of_employees                  AS employees,
    annual_revenue,
    country,
    created_at,
    coalesce(last_modified_at, updated_at) AS updated_at
FROM hubspot.companies
WHERE NOT coalesce(archived, false)
