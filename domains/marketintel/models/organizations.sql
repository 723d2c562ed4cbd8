-- One row per Crunchbase organization with its funding, size, categories and website.
-- web_domain and company_gid come from the mesh-wide macros that marketing.crm_companies
-- uses too, so the two match on company_gid.
SELECT
    uuid                                    AS organization_id,
    permalink,
    name,
    short_description,
    website_url,
    web_domain(website_url)                 AS web_domain,
    founded_on,
    num_employees_enum                      AS employees_range,
    TRY_CAST(split_part(num_employees_enum, '_', 2) AS BIGINT) AS employees_min,
    TRY_CAST(split_part(num_employees_enum, '_', 3) AS BIGINT) AS employees_max,
    array_to_string(list_transform(from_json(coalesce(categories, '[]'), '[{"value":"VARCHAR"}]'), c -> c.value), ', ') AS categories,
    last_funding_type,
    funding_total_usd,
    operating_status,
    updated_at,
    company_gid(website_url)                AS company_gid
FROM crunchbase.organizations
