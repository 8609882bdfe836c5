-- The conflicts a batch opened, as its first answer carried them (WireCodec JSON), so that a retry of the batch (its
-- first answer lost) gets them too. Null when it opened none, and for batches applied before this column existed.
alter table sync_batch add column conflicts text;
