-- The platform's users with their e-mail address and name (PII: the port is
-- restricted), their person_gid and their account's company_gid.
SELECT
    u.user_id,
    u.account_id,
    email_address(u.email)    AS email,
    u.full_name,
    person_gid(u.email)       AS person_gid,
    company_gid(a.web_domain) AS company_gid,
    u.created_at
FROM platform_db.users AS u
LEFT JOIN platform_db.accounts AS a ON a.account_id = u.account_id
