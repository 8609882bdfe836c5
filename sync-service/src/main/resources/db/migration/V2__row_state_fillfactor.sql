-- Leave room on each page so a row's new version fits beside the old one: updates of row_state change no indexed
-- column, so they can be HOT updates (no index writes, no index bloat).
alter table row_state set (fillfactor = 80);
