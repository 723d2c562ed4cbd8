-- Every follow the mesh has seen, one row per edge and start: who follows whom, since
-- when, and until when. The database deletes a row on unfollow and keeps no time for
-- it, so until is when the landing that read the deletion (its tombstone in
-- platform_db.follows_history) extracted it: an unfollow is dated within one landing.
-- A follow begun and ended between two landings is never seen.
WITH follows AS (
    SELECT follower_user_id, followed_user_id, since, max(_lsn) AS lsn
    FROM platform_db.follows_history
    WHERE _deleted IS NOT TRUE
    GROUP BY ALL
),
unfollows AS (
    SELECT follower_user_id, followed_user_id, _lsn AS lsn, _extracted_at
    FROM platform_db.follows_history
    WHERE _deleted
),
edges AS (
    SELECT
        f.follower_user_id,
        f.followed_user_id,
        f.since,
        (SELECT min(u._extracted_at) FROM unfollows AS u
         WHERE u.follower_user_id = f.follower_user_id AND u.followed_user_id = f.followed_user_id
           AND u.lsn > f.lsn) AS until
    FROM follows AS f
)
SELECT
    e.follower_user_id,
    e.followed_user_id,
    e.since,
    e.until,
    e.until IS NULL     AS active,
    fr.account_id       AS follower_account_id,
    fd.account_id       AS followed_account_id
FROM edges AS e
LEFT JOIN platform_db.users AS fr ON fr.user_id = e.follower_user_id
LEFT JOIN platform_db.users AS fd ON fd.user_id = e.followed_user_id
