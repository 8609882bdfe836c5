-- Row states are stored as bytes: CBOR from now on (RowStateCodec.encodeBinary: no escaping to write, no UTF-8 to
-- check, a third smaller), and the JSON rows written before, as their UTF-8 bytes, which the codec still reads (JSON
-- starts with '{', CBOR with a map header). Rewrites the table once.
alter table row_state alter column state type bytea using convert_to(state, 'UTF8');
