-- The platform's customer accounts as the database holds them now (a deleted account
-- is gone: the raw view leaves out keys whose newest version is a tombstone), with the
-- global company id of the website domain the account entered and its live users.
SELECT
    a.account_id,
    a.name,
    web_domain(a.web_domain)  AS web_domain,
    company_gid(a.web_domain) AS company_gid,
    a.plan,
    a.created_at,
    a.updated_at,
    (SELECT count(*) FROM platform_db.users AS u WHERE u.account_id = a.account_id) AS users
FROM platform_db.accounts AS a
