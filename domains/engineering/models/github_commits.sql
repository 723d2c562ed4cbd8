-- Commits per branch; a commit reachable from two branches appears once per branch.
SELECT
    repository,
    branch,
    sha,
    message_headline,
    author_name,
    lower(author_email)  AS author_email,
    author_login,
    authored_at,
    committed_at
FROM github.commits
