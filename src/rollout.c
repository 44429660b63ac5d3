/*
 * rollout.c - the rollout's statements (see rollout.h).
 */
#include "rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgconn.h"
#include "pgtext.h"
#include "sbuf.h"

char *rollout_add_column(const char *qt, const char *qc)
{
	return pgtext_printf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s text",
			     qt, qc);
}

char *rollout_drop_column(const char *qt, const char *qc)
{
	return pgtext_printf("ALTER TABLE %s DROP COLUMN IF EXISTS %s", qt, qc);
}

char *rollout_add_check(const char *qt, const char *qchk, const char *qc)
{
	return pgtext_printf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT "
			     "NULL) NOT VALID", qt, qchk, qc);
}

char *rollout_validate_check(const char *qt, const char *qchk)
{
	return pgtext_printf("ALTER TABLE %s VALIDATE CONSTRAINT %s", qt, qchk);
}

char *rollout_drop_check(const char *qt, const char *qchk, bool if_exists)
{
	return pgtext_printf("ALTER TABLE %s DROP CONSTRAINT %s%s", qt,
			     if_exists ? "IF EXISTS " : "", qchk);
}

char *rollout_set_not_null(const char *qt, const char *qc)
{
	return pgtext_printf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", qt, qc);
}

char *rollout_drop_not_null(const char *qt, const char *qc)
{
	return pgtext_printf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", qt, qc);
}

char *rollout_unique_index(const char *qidx, const char *qt, const char *qc)
{
	return pgtext_printf("CREATE UNIQUE INDEX CONCURRENTLY %s ON %s (%s)",
			     qidx, qt, qc);
}

char *rollout_unique_index_only(const char *qidx, const char *qt,
				const char *qc)
{
	return pgtext_printf("CREATE UNIQUE INDEX %s ON ONLY %s (%s)", qidx, qt,
			     qc);
}

char *rollout_attach_index(const char *qparent, const char *qchild)
{
	return pgtext_printf("ALTER INDEX %s ATTACH PARTITION %s", qparent, qchild);
}

char *rollout_drop_index(const char *qidxs, bool concurrently)
{
	return pgtext_printf("DROP INDEX %sIF EXISTS %s",
			     concurrently ? "CONCURRENTLY " : "", qidxs);
}

char *rollout_null_index(const char *qidx, const char *qt, const char *qcols,
			 const char *qc)
{
	return pgtext_printf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s "
			     "(%s) WHERE %s IS NULL", qidx, qt, qcols, qc);
}

/* Smallest 2^k - 1 that covers every index 0..len-1, as nanoid.c's. */
static unsigned id_mask(unsigned len)
{
	unsigned m = 1;

	while (m < len - 1)
		m = (m << 1) | 1;
	return m;
}

char *rollout_id_function(const char *qfn, const char *alphabet, long size,
			  const char *prefix)
{
	unsigned len = (unsigned)strlen(alphabet);
	char *qa = pgconn_quote_literal(alphabet);
	char *qp = pgconn_quote_literal(prefix);
	struct sbuf body = { 0 }, out = { 0 };
	char tag[32];

	if (qa == NULL || qp == NULL) {
		free(qa);
		free(qp);
		return NULL;
	}
	/* Bytes 6 and 8 carry the uuid's version and variant: not read. */
	sb_printf(&body,
		  "\nDECLARE\n"
		  "  alphabet constant text := %s;\n"
		  "  id text := %s;\n"
		  "  drawn int := 0;\n"
		  "  r bytea;\n"
		  "  i int;\n"
		  "  k int;\n"
		  "BEGIN\n"
		  "  LOOP\n"
		  "    r := pg_catalog.uuid_send(pg_catalog.gen_random_uuid());\n"
		  "    FOREACH i IN ARRAY '{0,1,2,3,4,5,7,9,10,11,12,13,14,15}'::int[] LOOP\n"
		  "      k := pg_catalog.get_byte(r, i) & %u;\n"
		  "      IF k < %u THEN\n"
		  "        id := id || pg_catalog.substr(alphabet, k + 1, 1);\n"
		  "        drawn := drawn + 1;\n"
		  "        IF drawn = %ld THEN\n"
		  "          RETURN id;\n"
		  "        END IF;\n"
		  "      END IF;\n"
		  "    END LOOP;\n"
		  "  END LOOP;\n"
		  "END\n", qa, qp, id_mask(len), len, size);
	free(qa);
	free(qp);
	if (body.oom) {
		free(body.s);
		return NULL;
	}
	/* A prefix may hold "$nb$": the tag is one the body does not. */
	pgtext_dollar_tag(tag, sizeof tag, body.s);
	/* Its operators resolve in pg_catalog whatever the inserting
	 * session's search_path: no other schema's || or & can stand in. */
	sb_printf(&out, "CREATE OR REPLACE FUNCTION %s() RETURNS text\n"
		  "LANGUAGE plpgsql VOLATILE PARALLEL SAFE\n"
		  "SET search_path = pg_catalog, pg_temp\n"
		  "AS %s%s%s", qfn, tag, body.s, tag);
	free(body.s);
	if (out.oom) {
		free(out.s);
		return NULL;
	}
	return out.s;
}

char *rollout_set_default(const char *qt, const char *qc, const char *qfn)
{
	return pgtext_printf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s()",
			     qt, qc, qfn);
}

char *rollout_drop_default(const char *qt, const char *qc)
{
	return pgtext_printf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", qt, qc);
}

char *rollout_drop_id_function(const char *qfn)
{
	return pgtext_printf("DROP FUNCTION IF EXISTS %s()", qfn);
}
