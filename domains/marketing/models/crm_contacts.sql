-- One row per live HubSpot contact, newest version (the framework's hubspot.contacts view
-- already keeps the newest landed version of each record).
SELECT
    id                                   AS contact_id,
    nullif(lower(trim(email)), '')       AS email,
    first_name,
    last_name,
    associated_company_id                AS company_id,
    lifecycle_stage,
    country,
    created_at,
    coalesce(last_modified_at, updated_at) AS updated_at
FROM hubspot.contacts
WHERE NOT coalesce(archived, false)
