-- Every status transition of every issue, from the issues' full changelogs. A changelog
-- entry can change several fields; only its status item is kept.
WITH entries AS (
    SELECT
        id AS change_id,
        issue_id,
        issue_key,
        author_name,
        created_at,
        list_filter(
            from_json(items, '[{"field":"VARCHAR","fromString":"VARCHAR","toString":"VARCHAR"}]'),
            x -> x.field = 'status'
        ) AS status_items
    FROM jira.issue_changelog
)
SELECT
    change_id,
    issue_id,
    issue_key,
    split_part(issue_key, '-', 1)   AS project_key,
    status_items[1].fromString      AS from_status,
    status_items[1].toString        AS to_status,
    author_name                     AS changed_by,
    created_at                      AS changed_at
FROM entries
WHERE len(status_items) > 0
