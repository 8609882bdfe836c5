-- The service takes the queued SQL writes in order, a chunk at a time: an index on the pending ones keeps each take
-- cheap while a 100,000-row UPDATE drains (without it every take sorted the whole queue).
create index data_write_pending on data_write (pos) where refused is null;
