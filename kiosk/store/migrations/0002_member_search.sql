-- Member search by partial name: a trigram full-text index over the folded name, kept in
-- step with the members table by triggers.

CREATE VIRTUAL TABLE member_names USING fts5 (
    name_folded,
    content = 'members',
    content_rowid = 'rowid',
    tokenize = 'trigram'
);

INSERT INTO member_names (member_names) VALUES ('rebuild');

CREATE TRIGGER members_names_insert AFTER INSERT ON members
BEGIN
    INSERT INTO member_names (rowid, name_folded) VALUES (new.rowid, new.name_folded);
END;

CREATE TRIGGER members_names_delete AFTER DELETE ON members
BEGIN
    INSERT INTO member_names (member_names, rowid, name_folded)
    VALUES ('delete', old.rowid, old.name_folded);
END;

CREATE TRIGGER members_names_update AFTER UPDATE OF name_folded ON members
BEGIN
    INSERT INTO member_names (member_names, rowid, name_folded)
    VALUES ('delete', old.rowid, old.name_folded);
    INSERT INTO member_names (rowid, name_folded) VALUES (new.rowid, new.name_folded);
END;
