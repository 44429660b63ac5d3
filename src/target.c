/*
 * target.c - the run's target: the catalog query sent on the engine's
 * connection, and how the table is walked (see target.h). What the rows
 * say, and every refusal, is read in catalog.c.
 */
#include "target.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "conn.h"

int target_send(struct conn *w, const struct config *c)
{
	struct catalog_params p;  /* libpq copies the values while sending */

	if (catalog_target_params(c, &p, w->errbuf, sizeof w->errbuf) != 0)
		return -1;
	return conn_send(w, catalog_target_sql(), CATALOG_TARGET_NPARAMS,
			   p.types, p.values, p.lengths, p.formats);
}

static bool order_is(const struct config *c, const char *order)
{
	return strcmp(c->order, order) == 0;
}


/* Decides how to walk t (see target.h) and says why in t->walk_reason. */
static int choose_walk(struct target *t, const struct config *c,
		       const char *rel, char *err, size_t errlen)
{
	const char *why = t->key_problem;
	bool key = why[0] != '\0';

	t->walk = WALK_PHYSICAL;
	t->key_ok = !key && !t->tree;
	if (order_is(c, "physical")) {
		snprintf(t->walk_reason, sizeof t->walk_reason, "--order physical");
		return 0;
	}
	if (t->tree) {
		if (order_is(c, "key")) {
			snprintf(err, errlen, "%s has partitions or inheritance children, "
				 "which are filled one table at a time in physical order; "
				 "use --order physical or auto", rel);
			return -1;
		}
		snprintf(t->walk_reason, sizeof t->walk_reason,
			 "%s has partitions or inheritance children: each of its %ld "
			 "tables in turn", rel, t->leaves);
		return 0;
	}
	if (key) {
		/* A key the user named must be a key: a mistake is not a hint. */
		if (order_is(c, "key") || c->nkeys > 0) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
		if (t->nkeys == 0)
			snprintf(t->walk_reason, sizeof t->walk_reason,
				 "it has no primary key and no --key was given");
		else
			snprintf(t->walk_reason, sizeof t->walk_reason, "%s", why);
		return 0;
	}
	if (order_is(c, "key")) {
		t->walk = WALK_KEY;
		snprintf(t->walk_reason, sizeof t->walk_reason, "--order key");
		return 0;
	}
	if (isnan(t->correlation)) {
		snprintf(t->walk_reason, sizeof t->walk_reason,
			 "no statistics yet on how the key follows the heap");
		return 0;
	}
	if (fabs(t->correlation) < TARGET_KEY_CORRELATION) {
		snprintf(t->walk_reason, sizeof t->walk_reason,
			 "the key does not follow the heap (correlation %.2f)",
			 t->correlation);
		return 0;
	}
	if (c->until_done) {
		/* One pass over the whole table: both walks read the same pages,
		 * and physical order's batches are one TID range scan where the
		 * key's are two index scans. */
		snprintf(t->walk_reason, sizeof t->walk_reason,
			 "--until-done: one pass over the whole heap, which physical "
			 "order reads without the key's index (the key follows the heap, "
			 "correlation %.2f)", t->correlation);
		return 0;
	}
	if (!target_int_key(t)) {
		/* Without a high-water mark a service's every pass walks the
		 * whole table, as physical order does with one scan a batch. */
		snprintf(t->walk_reason, sizeof t->walk_reason,
			 "the key follows the heap (correlation %.2f), but only a single "
			 "integer key lets later passes start past its high-water mark",
			 t->correlation);
		return 0;
	}
	t->walk = WALK_KEY;
	snprintf(t->walk_reason, sizeof t->walk_reason,
		 "the key follows the heap (correlation %.2f)", t->correlation);
	return 0;
}

int target_check(struct target *t, const PGresult *res,
		 const struct config *c, size_t id_len, char *err,
		 size_t errlen)
{
	char rel[300];

	if (catalog_target_read(t, res, c, id_len, err, errlen) != 0)
		return -1;
	snprintf(rel, sizeof rel, "\"%s\".\"%s\"", t->schema, t->table);
	if (choose_walk(t, c, rel, err, errlen) != 0) {
		target_free(t);
		return -1;
	}
	return 0;
}

bool target_id_index(const struct target *t, const char *schema,
		     const char *table, const char *index)
{
	if (!schema || !table || !index)
		return false;
	for (int i = 0; i < t->nid_indexes; i++) {
		char *const *x = &t->id_indexes[i * 3];

		if (strcmp(x[0], schema) == 0 && strcmp(x[1], table) == 0 &&
		    strcmp(x[2], index) == 0)
			return true;
	}
	return false;
}

double target_rows(const struct target *t)
{
	return t->reltuples >= 0 ? t->reltuples : t->planned_rows;
}

double target_estimate(const struct target *t)
{
	double rows = t->planned_rows >= 0 ? t->planned_rows : t->reltuples;

	if (rows < 0)
		return -1;
	return rows * t->null_frac;
}

int target_width(const struct target *t)
{
	return t->walk == WALK_KEY ? t->nkeys : 1;
}

bool target_int_key(const struct target *t)
{
	/* int8, int2, int4 */
	return t->nkeys == 1 && (t->key_types[0] == 20 || t->key_types[0] == 21 ||
				 t->key_types[0] == 23);
}

const char *target_walk_name(enum walk w)
{
	return w == WALK_KEY ? "key" : "physical";
}

void target_free(struct target *t)
{
	free(t->schema);
	free(t->table);
	free(t->column);
	for (int i = 0; i < t->nkeys; i++)
		free(t->keys[i]);
	for (int i = 0; t->id_indexes && t->id_indexes[i]; i++)
		free(t->id_indexes[i]);
	free(t->id_indexes);
	free(t->triggers);
	memset(t, 0, sizeof *t);
}
