-- Member search in list order: the names in the order the results are shown, with the folded
-- name beside them, so a short fragment that matches thousands of members (two letters, or
-- one three-letter piece) walks this index and stops at the fiftieth match instead of sorting
-- every match. Depends on 0001 (members) and 0002 (the trigram index it is checked against).

CREATE INDEX members_in_order ON members (last_name, first_name, member_id, name_folded);
