-- bench_batched(batch, nrows): the ceiling's UPDATE (md5 of the key) in
-- transactions of about `batch` rows: windows of whole blocks in physical
-- order (TID ranges, PostgreSQL 14+), one COMMIT each, over the blocks the
-- table had at the start (the rows' new versions go past them). The same
-- guard as nanoid-backfill's (public_id IS NULL); run it with
-- synchronous_commit off, as nanoid-backfill's sessions run. What any tool
-- that commits every `batch` rows pays for the commits and the windows
-- alone, with no id to generate, no lease and no row count to keep.
CREATE OR REPLACE PROCEDURE bench_batched(batch int, nrows bigint)
LANGUAGE plpgsql AS $$
DECLARE
	nblocks bigint := pg_relation_size('bench_t') / current_setting('block_size')::bigint;
	w bigint := greatest(1, ceil(batch::float8 * nblocks / greatest(nrows, 1)))::bigint;
	b bigint := 0;
BEGIN
	WHILE b < nblocks LOOP
		UPDATE bench_t SET public_id = md5(id::text)
		 WHERE ctid >= format('(%s,0)', b)::tid AND ctid < format('(%s,0)', b + w)::tid
		   AND public_id IS NULL;
		COMMIT;
		b := b + w;
	END LOOP;
END $$;
