-- Keys compared on every pushed row are compared as bytes ("C"), not by the database's locale: a B-tree descent is
-- a few dozen comparisons, and with a locale each is a strcoll() call. Nothing sorts these for people to read;
-- equality is the same either way.
alter table row_state alter column tbl type text collate "C", alter column id type text collate "C";
alter table change_feed alter column scope type text collate "C";
alter table sync_batch alter column batch_id type text collate "C";
