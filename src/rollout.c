/*
 * rollout.c - the rollout's statements (see rollout.h).
 */
#include "rollout.h"

#include "pgtext.h"

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
