-- The feed holds one entry per (transaction, scope): every change a batch applied in that scope, in the binary wire
-- form of a change list ("changes", n of them). One row, one index entry and one value per batch instead of per
-- change, on the table every pushed change lands in. Rows written before keep their one JSON change ("change",
-- n = 1); readers take either. Entries are read in (xid, pos) order as before; a cursor inside an entry names how
-- many of its changes were delivered.
alter table change_feed alter column change drop not null;
alter table change_feed drop column tbl;
alter table change_feed drop column row_id;
alter table change_feed add column changes bytea;
alter table change_feed add column n integer not null default 1;
alter table change_feed add constraint change_feed_one_form
    check ((change is null) <> (changes is null) and n >= 1 and (changes is not null or n = 1));
