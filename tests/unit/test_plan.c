/*
 * test_plan.c - the `plan` subcommand's files: names in sqlx's pattern,
 * strictly increasing versions, identifier quoting that survives hostile
 * names, the no-transaction marker, lock_timeout, data-loss warnings,
 * --no-unique / --no-not-null, versions after the directory's, writing;
 * and the steps for a partitioned table (a partition tree as `plan
 * --dsn` reads it, built here in memory).
 */
#include "config.h"
#include "db.h"
#include "nanoid.h"
#include "plan.h"

#include <check.h>
#include <dirent.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 2024-01-02 03:04:05 UTC */
#define T0 ((time_t)1704164645)

/* A validated config from a NULL-terminated argument list. */
static void make_config(struct config *c, ...)
{
	char *argv[32];
	char err[CONFIG_ERR_LEN];
	int argc = 0;
	const char *a;
	va_list ap;

	argv[argc++] = (char *)"plan";
	va_start(ap, c);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	ck_assert_msg(config_parse_args(c, argc, argv, err, sizeof err) ==
		      CONFIG_OK, "%s", err);
	ck_assert_msg(config_validate(c, err, sizeof err) == CONFIG_OK, "%s",
		      err);
}

static void build(struct plan *p, struct config *c, time_t first)
{
	char err[CONFIG_ERR_LEN];

	ck_assert_msg(plan_build(p, c, NULL, first, err, sizeof err) == 0, "%s",
		      err);
}

static const struct plan_file *find(const struct plan *p, const char *part,
				    const char *dir)
{
	char suffix[32];

	snprintf(suffix, sizeof suffix, ".%s.sql", dir);
	for (int i = 0; i < p->nfiles; i++) {
		const char *n = p->files[i].name;

		if (strstr(n, part) != NULL &&
		    strcmp(n + strlen(n) - strlen(suffix), suffix) == 0)
			return &p->files[i];
	}
	ck_abort_msg("no %s file for '%s'", dir, part);
	return NULL;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Length of a dollar-quote tag ($$, $tag$) at s, 0 if there is none. */
static size_t dollar_tag(const char *s)
{
	size_t n = 1;

	if (s[0] != '$' || (s[1] >= '0' && s[1] <= '9'))
		return 0;
	while (s[n] == '_' || (s[n] >= 'a' && s[n] <= 'z') ||
	       (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9'))
		n++;
	return s[n] == '$' ? n + 1 : 0;
}

/*
 * The SQL of a file with every comment, quoted identifier, string
 * literal and dollar-quoted body cut out, as PostgreSQL's lexer sees
 * them: what is left is the statements' keywords and punctuation only.
 * E'...' strings: the files double quotes and backslashes in them, so
 * they read as '...' with '' inside.
 */
static char *bare_sql(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	size_t tag;

	ck_assert_ptr_nonnull(out);
	while (*s) {
		if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				s++;
		} else if ((tag = dollar_tag(s)) > 0) {
			const char *end = s + tag;

			while (strncmp(end, s, tag) != 0) {
				ck_assert_msg(*end != '\0', "unterminated %.*s",
					      (int)tag, s);
				end++;
			}
			*o++ = '?';
			s = end + tag;
		} else if (*s == '"' || *s == '\'') {
			char q = *s++;

			*o++ = '?';
			for (;;) {
				ck_assert_msg(*s != '\0', "unterminated quote");
				if (*s == q && s[1] == q) {
					s += 2;
				} else if (*s == q) {
					s++;
					break;
				} else {
					s++;
				}
			}
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

/* Number of statements: ';' outside comments, quotes and strings. */
static int statements(const char *text)
{
	char *bare = bare_sql(text);
	int n = 0;

	for (char *p = bare; *p; p++)
		n += *p == ';';
	free(bare);
	return n;
}

/* ---- names -------------------------------------------------------------- */

START_TEST(test_quote_ident)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "orders", "\"orders\"" },
		{ "Orders", "\"Orders\"" },
		{ "a\"b", "\"a\"\"b\"" },
		{ "\"", "\"\"\"\"" },
		{ "", "\"\"" },
		{ "x\n; DROP TABLE t; --", "\"x\n; DROP TABLE t; --\"" },
		{ "select", "\"select\"" },
		{ "é ü", "\"é ü\"" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *q = pgconn_quote_ident(cases[i].in);

		ck_assert_str_eq(q, cases[i].out);
		free(q);
	}
}
END_TEST

START_TEST(test_object_name)
{
	char out[PLAN_MAX_IDENT + 1], a60[61], want[PLAN_MAX_IDENT + 1];

	plan_object_name("orders", "public_id", "key", out);
	ck_assert_str_eq(out, "orders_public_id_key");
	plan_object_name("orders", "public_id", PLAN_CHECK_LABEL, out);
	ck_assert_str_eq(out, "orders_public_id_not_null_check");

	/* The longer name is shortened first, to 63 bytes in all. */
	memset(a60, 'a', 60);
	a60[60] = '\0';
	plan_object_name(a60, "bb", "key", out);
	snprintf(want, sizeof want, "%.56s_bb_key", a60);
	ck_assert_str_eq(out, want);
	ck_assert_uint_eq(strlen(out), PLAN_MAX_IDENT);
	plan_object_name(a60, a60, "key", out);
	ck_assert_uint_eq(strlen(out), PLAN_MAX_IDENT);
	ck_assert(starts_with(out, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa_"));

	/* As PostgreSQL 15 named UNIQUE (col_ü*20) on tbl_é*29: characters
	 * are cut whole. */
	plan_object_name("tbl_ééééééééééééééééééééééééééééé",
			 "col_üüüüüüüüüüüüüüüüüüüü", "key", out);
	ck_assert_str_eq(out, "tbl_éééééééééééé_col_üüüüüüüüüüüü_key");
}
END_TEST

START_TEST(test_slug)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "orders", "orders" },
		{ "Public Id", "public_id" },
		{ "Order \"Items\"\n; DROP TABLE x; --", "order_items_drop_table_x" },
		{ "__a__b__", "a_b" },
		{ "日本", "x" },
		{ "", "x" },
		{ "a-é-b", "a_b" },
	};
	char out[25];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		plan_slug(cases[i].in, out, sizeof out);
		ck_assert_str_eq(out, cases[i].out);
	}
	plan_slug("abcdefghijklmnopqrstuvwxyz0123456789", out, 10);
	ck_assert_str_eq(out, "abcdefghi");
}
END_TEST

/* ---- files -------------------------------------------------------------- */

START_TEST(test_file_names)
{
	static const char *const want[] = {
		"20240102030405_add_public_id_to_orders.up.sql",
		"20240102030405_add_public_id_to_orders.down.sql",
		"20240102030406_set_public_id_default_on_orders.up.sql",
		"20240102030406_set_public_id_default_on_orders.down.sql",
		"20240102030407_backfill_public_id_in_orders.up.sql",
		"20240102030407_backfill_public_id_in_orders.down.sql",
		"20240102030408_add_public_id_not_null_check_to_orders.up.sql",
		"20240102030408_add_public_id_not_null_check_to_orders.down.sql",
		"20240102030409_validate_public_id_not_null_check_on_orders.up.sql",
		"20240102030409_validate_public_id_not_null_check_on_orders.down.sql",
		"20240102030410_set_public_id_not_null_on_orders.up.sql",
		"20240102030410_set_public_id_not_null_on_orders.down.sql",
		"20240102030411_create_public_id_unique_index_on_orders.up.sql",
		"20240102030411_create_public_id_unique_index_on_orders.down.sql",
	};
	struct config c;
	struct plan p;
	regex_t re;

	ck_assert_int_eq(regcomp(&re, "^[0-9]{14}_[a-z0-9_]+\\.(up|down)\\.sql$",
				 REG_EXTENDED | REG_NOSUB), 0);
	make_config(&c, "--table", "orders", "--column", "public_id", NULL);
	build(&p, &c, T0);
	ck_assert_int_eq(p.nsteps, 7);
	ck_assert_int_eq(p.nfiles, 14);
	for (int i = 0; i < p.nfiles; i++) {
		ck_assert_str_eq(p.files[i].name, want[i]);
		ck_assert_msg(regexec(&re, p.files[i].name, 0, NULL, 0) == 0,
			      "%s", p.files[i].name);
	}
	plan_free(&p);

	/* Hostile names still give sqlx names. */
	config_free(&c);
	make_config(&c, "--schema", "S\"", "--table", "Ö\n\"x\"; --",
		    "--column", "日本", NULL);
	build(&p, &c, T0);
	for (int i = 0; i < p.nfiles; i++)
		ck_assert_msg(regexec(&re, p.files[i].name, 0, NULL, 0) == 0,
			      "%s", p.files[i].name);
	ck_assert_str_eq(p.files[0].name, "20240102030405_add_x_to_x.up.sql");
	plan_free(&p);
	config_free(&c);
	regfree(&re);
}
END_TEST

START_TEST(test_versions_increase)
{
	struct config c;
	struct plan p;
	char prev[15] = "";

	/* Across a year's end: 2023-12-31 23:59:58 UTC. */
	make_config(&c, "--table", "t", "--column", "c", NULL);
	build(&p, &c, (time_t)1704067198);
	for (int i = 0; i < p.nfiles; i += 2) {
		char v[15];

		memcpy(v, p.files[i].name, 14);
		v[14] = '\0';
		/* up and down of a step share their version */
		ck_assert(strncmp(p.files[i + 1].name, v, 14) == 0);
		ck_assert_msg(strcmp(v, prev) > 0, "%s after %s", v, prev);
		memcpy(prev, v, sizeof v);
	}
	ck_assert(starts_with(p.files[0].name, "20231231235958_"));
	ck_assert(starts_with(p.files[4].name, "20240101000000_"));
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_hostile_names_quoted)
{
	struct config c;
	struct plan p;

	make_config(&c, "--schema", "My \"S\"", "--table",
		    "t\"\n; DROP TABLE victim; --", "--column", "c'd\"e", NULL);
	build(&p, &c, T0);
	for (int i = 0; i < p.nfiles; i++) {
		const char *text = p.files[i].text;
		char *bare = bare_sql(text);

		/* With comments and quoted names cut out, no trace of them. */
		ck_assert_msg(strstr(bare, "victim") == NULL, "%s: %s",
			      p.files[i].name, bare);
		ck_assert_msg(strstr(bare, "DROP TABLE") == NULL, "%s",
			      p.files[i].name);
		free(bare);
		/* The names in SQL, as quote_ident would write them. */
		if (strstr(text, "ALTER TABLE") != NULL) {
			ck_assert_msg(strstr(text, "ALTER TABLE \"My \"\"S\"\"\"."
					     "\"t\"\"\n; DROP TABLE victim; --\"") != NULL,
				      "%s", p.files[i].name);
			ck_assert_msg(strstr(text, "\"c'd\"\"e\"") != NULL, "%s",
				      p.files[i].name);
		}
		/* In comments the newline is escaped. */
		ck_assert_msg(strstr(text, "-- Target: \"My \"\"S\"\"\".\"t\"\"\\x0a; "
				     "DROP TABLE victim; --\".\"c'd\"\"e\"\n") != NULL,
			      "%s", p.files[i].name);
	}
	/* The command in step 2's comment is quoted for a shell, on one line. */
	ck_assert_ptr_nonnull(strstr(find(&p, "_backfill_", "up")->text,
		"--   nanoid-backfill --dsn \"$DATABASE_URL\" --schema 'My \"S\"' "
		"--table $'t\"\\n; DROP TABLE victim; --' --column 'c'\\''d\"e' "
		"--until-done\n"));
	/* The index lives in the table's schema: DROP INDEX names both. */
	ck_assert_ptr_nonnull(strstr(find(&p, "_unique_index_", "down")->text,
		"DROP INDEX CONCURRENTLY IF EXISTS \"My \"\"S\"\"\".\"t\"\"\n; "
		"DROP TABLE victim; --_c'd\"\"e_key\";\n"));
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_no_transaction)
{
	struct config c;
	struct plan p;

	make_config(&c, "--table", "orders", "--column", "public_id", NULL);
	build(&p, &c, T0);
	for (int i = 0; i < p.nfiles; i++) {
		const struct plan_file *f = &p.files[i];
		bool index = strstr(f->name, "_unique_index_") != NULL;

		/* sqlx reads the marker on the first line only. */
		ck_assert_msg(starts_with(f->text, "-- no-transaction\n") == index,
			      "%s", f->name);
		if (index)       /* one statement: a single query string */
			ck_assert_int_eq(statements(f->text), 1);
	}
	ck_assert(starts_with(strstr(find(&p, "_unique_index_", "up")->text,
				     "\nCREATE") + 1,
			      "CREATE UNIQUE INDEX CONCURRENTLY \"orders_public_id_key\" "
			      "ON \"orders\" (\"public_id\");\n"));
	ck_assert_ptr_nonnull(strstr(find(&p, "_unique_index_", "down")->text,
		"\nDROP INDEX CONCURRENTLY IF EXISTS \"orders_public_id_key\";\n"));
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_lock_timeout)
{
	struct config c;
	struct plan p;

	make_config(&c, "--table", "orders", "--column", "public_id",
		    "--ddl-lock-timeout", "750", NULL);
	build(&p, &c, T0);
	for (int i = 0; i < p.nfiles; i++) {
		const char *text = p.files[i].text;
		const char *ddl = strstr(text, "\nALTER TABLE");
		const char *set = strstr(text, "\nSET lock_timeout = '750ms';\n");

		if (ddl == NULL)
			continue;
		ck_assert_msg(set != NULL && set < ddl, "%s", p.files[i].name);
		ck_assert_msg(strstr(text, "\nRESET lock_timeout;\n") > ddl,
			      "%s", p.files[i].name);
	}
	/* Comment-only steps: the backfill, and the validate's down. */
	ck_assert_int_eq(statements(find(&p, "_backfill_", "up")->text), 0);
	ck_assert_int_eq(statements(find(&p, "_backfill_", "down")->text), 0);
	ck_assert_int_eq(statements(find(&p, "validate_", "down")->text), 0);
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_steps_sql)
{
	struct config c;
	struct plan p;

	make_config(&c, "--schema", "shop", "--table", "orders", "--column",
		    "public_id", NULL);
	build(&p, &c, T0);
	ck_assert_ptr_nonnull(strstr(find(&p, "_add_public_id_to_", "up")->text,
		"ALTER TABLE \"shop\".\"orders\" ADD COLUMN IF NOT EXISTS "
		"\"public_id\" text;"));
	ck_assert_ptr_nonnull(strstr(find(&p, "_not_null_check_to_", "up")->text,
		"ADD CONSTRAINT \"orders_public_id_not_null_check\" CHECK "
		"(\"public_id\" IS NOT NULL) NOT VALID;"));
	ck_assert_ptr_nonnull(strstr(find(&p, "validate_", "up")->text,
		"VALIDATE CONSTRAINT \"orders_public_id_not_null_check\";"));
	ck_assert_ptr_nonnull(strstr(find(&p, "set_public_id_not_null", "up")->text,
		"ALTER TABLE \"shop\".\"orders\" ALTER COLUMN \"public_id\" SET NOT NULL;\n"
		"ALTER TABLE \"shop\".\"orders\" DROP CONSTRAINT "
		"\"orders_public_id_not_null_check\";\n"));
	ck_assert_ptr_nonnull(strstr(find(&p, "set_public_id_not_null", "down")->text,
		"DROP NOT NULL;\nALTER TABLE \"shop\".\"orders\" ADD CONSTRAINT "
		"\"orders_public_id_not_null_check\" CHECK (\"public_id\" IS NOT "
		"NULL) NOT VALID;\n"));
	ck_assert_ptr_nonnull(strstr(find(&p, "_unique_index_", "down")->text,
		"DROP INDEX CONCURRENTLY IF EXISTS \"shop\".\"orders_public_id_key\";"));
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_data_loss_said)
{
	struct config c;
	struct plan p;

	make_config(&c, "--table", "orders", "--column", "public_id", NULL);
	build(&p, &c, T0);
	for (int i = 1; i < p.nfiles; i += 2) {
		const struct plan_file *f = &p.files[i];
		const char *warn = strstr(f->text, "-- WARNING: THIS DOWN LOSES DATA");
		const char *sql = strstr(f->text, "\nALTER");

		if (strstr(f->name, "_add_public_id_to_") != NULL) {
			/* at the top: before any statement */
			ck_assert_ptr_nonnull(warn);
			ck_assert(sql == NULL || warn < sql);
			ck_assert_ptr_nonnull(strstr(f->text, "DROP COLUMN"));
		} else {
			ck_assert_msg(warn == NULL, "%s", f->name);
			ck_assert_msg(strstr(f->text, "No data is lost.") != NULL,
				      "%s", f->name);
		}
	}
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_options_in_comments)
{
	struct config c;
	struct plan p;
	const char *text;

	make_config(&c, "--table", "t", "--column", "c", NULL);
	build(&p, &c, T0);
	text = find(&p, "_backfill_", "up")->text;
	ck_assert_ptr_nonnull(strstr(text, "--   nanoid-backfill --dsn \"$DATABASE_URL\" "
				     "--table 't' --column 'c' --until-done\n"));
	ck_assert_ptr_nonnull(strstr(text, "-- Ids: 21 symbols from \""
				     NANOID_DEFAULT_ALPHABET "\".\n"));
	ck_assert_ptr_nonnull(strstr(text, "-- Id space: 21 symbols of 64 (10^37.9 "
				     "distinct ids); 1e+09 ids: p(collision) ~ "
				     "5.9e-21.\n"));
	plan_free(&p);
	config_free(&c);

	make_config(&c, "--table", "t", "--column", "c", "--size", "12",
		    "--alphabet", "ab'c", "--prefix", "usr_", NULL);
	build(&p, &c, T0);
	text = find(&p, "_backfill_", "up")->text;
	ck_assert_ptr_nonnull(strstr(text, "--table 't' --column 'c' --size 12 "
				     "--alphabet 'ab'\\''c' --prefix 'usr_' --until-done\n"));
	ck_assert_ptr_nonnull(strstr(text, "-- Ids: the prefix \"usr_\" and 12 symbols "
				     "from \"ab'c\".\n"));
	ck_assert_ptr_nonnull(strstr(text, "-- Id space: 12 symbols of 4 (16,777,216 "
				     "distinct ids); 1e+09 ids: p(collision) = 1.\n"));
	/* Without the catalog the rows are not known: nothing to judge. */
	ck_assert_ptr_null(strstr(text, "-- Warning:"));
	ck_assert_ptr_nonnull(strstr(text, "nanoid-backfill verify --dsn \"$DATABASE_URL\" "
				     "--table 't' --column 'c' --size 12 "
				     "--alphabet 'ab'\\''c' --prefix 'usr_'\n"));
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_leave_out_steps)
{
	static const struct { const char *flag; int steps; const char *absent; } cases[] = {
		{ "--no-unique", 6, "unique_index" },
		{ "--no-not-null", 4, "not_null" },
		{ "--no-default", 6, "default" },
	};
	struct config c;
	struct plan p;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		make_config(&c, "--table", "t", "--column", "c", cases[i].flag,
			    NULL);
		build(&p, &c, T0);
		ck_assert_int_eq(p.nsteps, cases[i].steps);
		ck_assert_int_eq(p.nfiles, 2 * cases[i].steps);
		for (int j = 0; j < p.nfiles; j++)
			ck_assert_msg(strstr(p.files[j].name, cases[i].absent) == NULL,
				      "%s: %s", cases[i].flag, p.files[j].name);
		plan_free(&p);
		config_free(&c);
	}
	make_config(&c, "--table", "t", "--column", "c", "--no-unique",
		    "--no-not-null", NULL);
	build(&p, &c, T0);
	ck_assert_int_eq(p.nsteps, 3);
	ck_assert_ptr_nonnull(strstr(p.files[0].text, "step 1 of 3 (up)"));
	/* No later step to announce. */
	ck_assert_ptr_null(strstr(find(&p, "_backfill_", "up")->text, "before step"));
	plan_free(&p);
	config_free(&c);

	make_config(&c, "--table", "t", "--column", "c", "--no-not-null", NULL);
	build(&p, &c, T0);
	ck_assert_ptr_null(strstr(find(&p, "_backfill_", "up")->text, "From step"));
	ck_assert_ptr_nonnull(strstr(find(&p, "_unique_index_", "up")->text,
				     "step 4 of 4 (up)"));
	plan_free(&p);
	config_free(&c);
}
END_TEST

/* The id default: function in the table's schema, values as quoted
 * literals in a body whose dollar-quote tag they cannot end, the mask
 * and length of the alphabet, the down's order. */
START_TEST(test_default_step)
{
	struct config c;
	struct plan p;
	const char *up, *down;

	make_config(&c, "--schema", "S\"", "--table", "t", "--column", "c",
		    "--alphabet", "ab'\\$c", "--prefix", "x$nb$'", "--size", "7",
		    NULL);
	build(&p, &c, T0);
	ck_assert_str_eq(p.files[2].name,
			 "20240102030406_set_c_default_on_t.up.sql");
	up = p.files[2].text;
	ck_assert_ptr_nonnull(strstr(up, "step 2 of 7 (up)"));
	ck_assert_ptr_nonnull(strstr(up, "CREATE OR REPLACE FUNCTION "
				     "\"S\"\"\".\"t_c_nanoid\"() RETURNS text\n"));
	/* the prefix holds $nb$: another tag */
	ck_assert_ptr_nonnull(strstr(up, "AS $nb1$\n"));
	ck_assert_ptr_nonnull(strstr(up, "alphabet constant text := E'ab''\\\\$c';\n"));
	ck_assert_ptr_nonnull(strstr(up, "id text := E'x$nb$''';\n"));
	ck_assert_ptr_nonnull(strstr(up, "& 7;\n      IF k < 6 THEN"));
	ck_assert_ptr_nonnull(strstr(up, "IF drawn = 7 THEN"));
	ck_assert_ptr_nonnull(strstr(up, "ALTER TABLE \"S\"\"\".\"t\" ALTER COLUMN "
				     "\"c\" SET DEFAULT \"S\"\"\".\"t_c_nanoid\"();\n"));
	/* CREATE FUNCTION, SET lock_timeout, SET DEFAULT, RESET */
	ck_assert_int_eq(statements(up), 4);
	down = p.files[3].text;
	ck_assert_ptr_nonnull(strstr(down, "DROP DEFAULT;\nRESET lock_timeout;\n"
				     "DROP FUNCTION IF EXISTS \"S\"\"\".\"t_c_nanoid\"();\n"));
	/* With the default, the check step asks for no code change. */
	ck_assert_ptr_nonnull(strstr(find(&p, "_not_null_check_to_", "up")->text,
				     "the default of step 2"));
	plan_free(&p);
	config_free(&c);
}
END_TEST

/* ---- partitioned tables (the tree `plan --dsn` reads) -------------------- */

/* A tree in memory: add_rel() in the order plan_tree_read() gives. */
static void tree_init(struct plan_tree *t, bool global, const char *keys)
{
	memset(t, 0, sizeof *t);
	t->rels = calloc(16, sizeof *t->rels);
	ck_assert_ptr_nonnull(t->rels);
	t->global = global;
	t->partkeys = strdup(keys);
}

static void add_rel(struct plan_tree *t, const char *schema, const char *name,
		    char kind, int parent)
{
	struct plan_rel *r = &t->rels[t->nrels];

	ck_assert_int_lt(t->nrels, 16);
	r->schema = strdup(schema);
	r->name = strdup(name);
	snprintf(r->oid, sizeof r->oid, "%d", 16384 + t->nrels);
	r->kind = kind;
	r->parent = parent;
	t->nrels++;
	t->nleaves += kind != 'p';
}

static void build_tree(struct plan *p, struct config *c,
		       const struct plan_tree *t)
{
	char err[CONFIG_ERR_LEN];

	ck_assert_msg(plan_build(p, c, t, T0, err, sizeof err) == 0, "%s", err);
}

/* Number of files whose name contains part. */
static int count_named(const struct plan *p, const char *part)
{
	int n = 0;

	for (int i = 0; i < p->nfiles; i++)
		n += strstr(p->files[i].name, part) != NULL;
	return n;
}

/* LIST (region) with a default partition and one sub-partitioned
 * partition: the column cannot be unique across partitions. */
static void events_tree(struct plan_tree *t)
{
	tree_init(t, false, "LIST (region), HASH (id)");
	add_rel(t, "public", "events", 'p', -1);
	add_rel(t, "public", "events_eu", 'r', 0);
	add_rel(t, "archive", "events_other", 'r', 0);
	add_rel(t, "public", "events_am", 'p', 0);
	add_rel(t, "public", "events_am_0", 'r', 3);
	add_rel(t, "public", "events_am_1", 'r', 3);
}

START_TEST(test_partitions_unique_each)
{
	static const char *const want[] = {
		"20240102030410_create_public_id_unique_index_on_events_eu.up.sql",
		"20240102030411_create_public_id_unique_index_on_events_other.up.sql",
		"20240102030412_create_public_id_unique_index_on_events_am_0.up.sql",
		"20240102030413_create_public_id_unique_index_on_events_am_1.up.sql",
	};
	struct plan_tree t;
	struct config c;
	struct plan p;
	const char *text;

	events_tree(&t);
	make_config(&c, "--table", "events", "--column", "public_id", "--no-default", NULL);
	build_tree(&p, &c, &t);
	/* 5 steps as for a plain table, then one per leaf, none else */
	ck_assert_int_eq(p.nsteps, 5 + 4);
	ck_assert_int_eq(p.nfiles, 2 * p.nsteps);
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(p.files[10 + 2 * i].name, want[i]);
	ck_assert_int_eq(count_named(&p, "_on_only_"), 0);
	ck_assert_int_eq(count_named(&p, "attach_"), 0);
	for (int i = 0; i < p.nfiles; i++) {
		const struct plan_file *f = &p.files[i];
		bool leaf = strstr(f->name, "_unique_index_on_") != NULL;

		ck_assert_msg(starts_with(f->text, "-- no-transaction\n") == leaf,
			      "%s", f->name);
		if (leaf)
			ck_assert_int_eq(statements(f->text), 1);
		ck_assert_msg(strstr(f->text, "ATTACH") == NULL, "%s", f->name);
		ck_assert_msg(strstr(f->text, "ON ONLY") == NULL, "%s", f->name);
		ck_assert_msg(strstr(f->text, "-- Partitioned: LIST (region), "
				     "HASH (id); 4 partitions holding rows when "
				     "planned\n") != NULL, "%s", f->name);
		/* plan --dsn read the catalog: no advice to pass it */
		ck_assert_msg(strstr(f->text, "--dsn to get") == NULL, "%s", f->name);
	}
	/* Each leaf's index in the leaf's own schema, named as PostgreSQL
	 * would name it; dropped concurrently by its down. */
	text = find(&p, "_on_events_other", "up")->text;
	ck_assert_ptr_nonnull(strstr(text, "\nCREATE UNIQUE INDEX CONCURRENTLY "
		"\"events_other_public_id_key\" ON \"archive\".\"events_other\" "
		"(\"public_id\");\n"));
	ck_assert_ptr_nonnull(strstr(text, "-- Partition 2 of 4: "
				     "\"archive\".\"events_other\"\n"));
	/* What is enforced, said plainly; verify checks the rest. */
	ck_assert_ptr_nonnull(strstr(text, "-- PostgreSQL cannot make "
				     "\"public_id\" unique across the partitions"));
	ck_assert_ptr_nonnull(strstr(text, "one value in two partitions is not\n"
				     "-- rejected. `nanoid-backfill verify` still "
				     "checks duplicates over\n-- the whole table."));
	ck_assert_ptr_nonnull(strstr(find(&p, "_on_events_other", "down")->text,
		"\nDROP INDEX CONCURRENTLY IF EXISTS "
		"\"archive\".\"events_other_public_id_key\";\n"));
	/* The table-wide steps stay on the table, and say what they cost. */
	ck_assert_ptr_nonnull(strstr(find(&p, "validate_", "up")->text,
		"validates the check of every partition"));
	ck_assert_ptr_nonnull(strstr(find(&p, "set_public_id_not_null", "up")->text,
		"each one skips its scan"));
	ck_assert_ptr_nonnull(strstr(find(&p, "set_public_id_not_null", "up")->text,
		"ALTER TABLE \"events\" ALTER COLUMN \"public_id\" SET NOT NULL;\n"));
	/* Not partitioned by the column: its down can drop it. */
	ck_assert_ptr_null(strstr(find(&p, "_add_public_id_to_", "down")->text,
				  "partition key"));
	plan_free(&p);

	/* --no-unique: nothing per partition. */
	config_free(&c);
	make_config(&c, "--table", "events", "--column", "public_id",
		    "--no-unique", "--no-default", NULL);
	build_tree(&p, &c, &t);
	ck_assert_int_eq(p.nsteps, 5);
	ck_assert_int_eq(count_named(&p, "unique_index"), 0);
	plan_free(&p);
	config_free(&c);
	plan_tree_free(&t);
}
END_TEST

/* RANGE (c) with a default partition, one partition HASH (c) again:
 * partitioned by the column alone, so one index can span the tree. */
static void tokens_tree(struct plan_tree *t)
{
	tree_init(t, true, "RANGE (c), HASH (c)");
	add_rel(t, "public", "tk", 'p', -1);
	add_rel(t, "public", "tk_def", 'r', 0);
	add_rel(t, "public", "tk_hi", 'r', 0);
	add_rel(t, "public", "tk_lo", 'p', 0);
	add_rel(t, "public", "tk_lo_h0", 'r', 3);
	add_rel(t, "public", "tk_lo_h1", 'r', 3);
}

START_TEST(test_partitions_one_index)
{
	static const char *const want[] = {
		"20240102030410_create_c_unique_index_on_only_tk.up.sql",
		"20240102030411_create_c_unique_index_on_tk_def.up.sql",
		"20240102030412_create_c_unique_index_on_tk_hi.up.sql",
		"20240102030413_create_c_unique_index_on_tk_lo_h0.up.sql",
		"20240102030414_create_c_unique_index_on_tk_lo_h1.up.sql",
		"20240102030415_attach_c_unique_indexes_on_tk.up.sql",
	};
	struct plan_tree t;
	struct config c;
	struct plan p;
	const char *text, *guard, *att;

	tokens_tree(&t);
	make_config(&c, "--schema", "public", "--table", "tk", "--column", "c",
		    "--no-default", NULL);
	build_tree(&p, &c, &t);
	ck_assert_int_eq(p.nsteps, 5 + 1 + 4 + 1);
	for (int i = 0; i < 6; i++)
		ck_assert_str_eq(p.files[10 + 2 * i].name, want[i]);

	/* ON ONLY the partitioned tables, the partitioned partition's index
	 * attached at once; all in one transaction with a lock timeout. */
	text = find(&p, "_on_only_tk", "up")->text;
	ck_assert(!starts_with(text, "-- no-transaction"));
	ck_assert_ptr_nonnull(strstr(text, "\nSET lock_timeout = '2000ms';\n"
		"CREATE UNIQUE INDEX \"tk_c_key\" ON ONLY \"public\".\"tk\" (\"c\");\n"
		"CREATE UNIQUE INDEX \"tk_lo_c_key\" ON ONLY \"public\".\"tk_lo\" (\"c\");\n"
		"ALTER INDEX \"public\".\"tk_c_key\" ATTACH PARTITION "
		"\"public\".\"tk_lo_c_key\";\n"
		"RESET lock_timeout;\n"));
	ck_assert_ptr_nonnull(strstr(text, "steps 7 to 10"));
	ck_assert_ptr_nonnull(strstr(text, "becomes unique across\n-- the whole table"));
	ck_assert_ptr_nonnull(strstr(find(&p, "_on_only_tk", "down")->text,
		"\nDROP INDEX IF EXISTS \"public\".\"tk_c_key\", "
		"\"public\".\"tk_lo_c_key\";\n"));

	/* Each leaf: one concurrent build, outside a transaction. */
	text = find(&p, "_on_tk_lo_h0", "up")->text;
	ck_assert(starts_with(text, "-- no-transaction\n"));
	ck_assert_int_eq(statements(text), 1);
	ck_assert_ptr_nonnull(strstr(text, "\nCREATE UNIQUE INDEX CONCURRENTLY "
		"\"tk_lo_h0_c_key\" ON \"public\".\"tk_lo_h0\" (\"c\");\n"));
	ck_assert_ptr_nonnull(strstr(text, "Step 11 attaches it to the index of "
				     "\"public\".\"tk_lo\".\n"));
	ck_assert_int_eq(statements(find(&p, "_on_tk_lo_h0", "down")->text), 1);

	/* Attach: the guard first, then each leaf to its parent's index. */
	text = find(&p, "attach_", "up")->text;
	ck_assert(!starts_with(text, "-- no-transaction"));
	guard = strstr(text, "\nDO $nb$\n");
	att = strstr(text, "\nALTER INDEX ");
	ck_assert_ptr_nonnull(guard);
	ck_assert_ptr_nonnull(att);
	ck_assert(guard < att);
	ck_assert_ptr_nonnull(strstr(guard, "WHERE NOT indisvalid AND indexrelid IN (\n"
		"      E'\"public\".\"tk_def_c_key\"'::regclass,\n"
		"      E'\"public\".\"tk_hi_c_key\"'::regclass,\n"
		"      E'\"public\".\"tk_lo_h0_c_key\"'::regclass,\n"
		"      E'\"public\".\"tk_lo_h1_c_key\"'::regclass);\n"));
	ck_assert_ptr_nonnull(strstr(guard, "RAISE EXCEPTION"));
	ck_assert_ptr_nonnull(strstr(att,
		"\nALTER INDEX \"public\".\"tk_c_key\" ATTACH PARTITION \"public\".\"tk_def_c_key\";\n"
		"ALTER INDEX \"public\".\"tk_c_key\" ATTACH PARTITION \"public\".\"tk_hi_c_key\";\n"
		"ALTER INDEX \"public\".\"tk_lo_c_key\" ATTACH PARTITION \"public\".\"tk_lo_h0_c_key\";\n"
		"ALTER INDEX \"public\".\"tk_lo_c_key\" ATTACH PARTITION \"public\".\"tk_lo_h1_c_key\";\n"
		"RESET lock_timeout;\n"));
	/* The guard and 4 ATTACHes, between SET and RESET */
	ck_assert_int_eq(statements(text), 1 + 1 + 4 + 1);
	/* Attached indexes go only with the table's index. */
	ck_assert_ptr_nonnull(strstr(find(&p, "attach_", "down")->text,
		"\nDROP INDEX IF EXISTS \"public\".\"tk_c_key\";\n"));
	/* The column is the partition key: its down says it fails. */
	ck_assert_ptr_nonnull(strstr(find(&p, "_add_c_to_tk", "down")->text,
		"PostgreSQL\n-- drops no column of a partition key."));
	plan_free(&p);
	config_free(&c);
	plan_tree_free(&t);

	/* No partition yet: the index ON ONLY is valid at once, nothing to
	 * attach. */
	tree_init(&t, true, "RANGE (c)");
	add_rel(&t, "public", "tk", 'p', -1);
	make_config(&c, "--table", "tk", "--column", "c", "--no-default", NULL);
	build_tree(&p, &c, &t);
	ck_assert_int_eq(p.nsteps, 6);
	ck_assert_int_eq(count_named(&p, "_on_only_tk"), 2);
	ck_assert_int_eq(count_named(&p, "attach_"), 0);
	plan_free(&p);
	config_free(&c);
	plan_tree_free(&t);
}
END_TEST

START_TEST(test_partitions_hostile_names)
{
	static const char *const leaf = "p\"\n; DROP TABLE victim; --$nb$'\\";
	struct plan_tree t;
	struct config c;
	struct plan p;
	const char *text;

	tree_init(&t, true, "HASH (\"c'd\")");
	add_rel(&t, "S\"", "t", 'p', -1);
	add_rel(&t, "S\"", leaf, 'r', 0);
	add_rel(&t, "S\"", "Events 1", 'r', 0);
	add_rel(&t, "S\"", "events_1", 'r', 0);
	make_config(&c, "--schema", "S\"", "--table", "t", "--column", "c'd",
		    "--no-default", NULL);
	build_tree(&p, &c, &t);
	for (int i = 0; i < p.nfiles; i++) {
		char *bare = bare_sql(p.files[i].text);

		/* With comments, names, strings and the DO body cut out, no
		 * trace of the name's content. */
		ck_assert_msg(strstr(bare, "victim") == NULL, "%s: %s",
			      p.files[i].name, bare);
		free(bare);
	}
	/* In comments the newline is escaped. */
	ck_assert_ptr_nonnull(strstr(find(&p, "_victim_nb", "up")->text,
		"\n-- Partition 1 of 3: \"S\"\"\".\"p\"\"\\x0a; DROP TABLE victim; "
		"--$nb$'\\\"\n"));
	/* Two names, one slug: the descriptions still differ. */
	ck_assert_int_eq(count_named(&p, "_unique_index_on_events_1.up.sql"), 1);
	ck_assert_int_eq(count_named(&p, "_unique_index_on_events_1_2.up.sql"), 1);
	ck_assert_int_eq(count_named(&p, "_unique_index_on_p_drop_table_victim_nb"), 2);

	/* In the guard, the name as a literal; the body's tag occurs in no
	 * name. */
	text = find(&p, "attach_", "up")->text;
	ck_assert_ptr_null(strstr(text, "DO $nb$"));
	ck_assert_ptr_nonnull(strstr(text, "DO $nb1$"));
	ck_assert_ptr_nonnull(strstr(text, "      E'\"S\"\"\".\"p\"\"\n; DROP "
				     "TABLE victim; --$nb$''\\\\_c''d_key\"'::regclass"));
	ck_assert_ptr_nonnull(strstr(text, "\nALTER INDEX \"S\"\"\".\"t_c'd_key\" "
		"ATTACH PARTITION \"S\"\"\".\"p\"\"\n; DROP TABLE victim; "
		"--$nb$'\\_c'd_key\";\n"));
	ck_assert_ptr_nonnull(strstr(find(&p, "_on_only_", "up")->text,
		"\nCREATE UNIQUE INDEX \"t_c'd_key\" ON ONLY \"S\"\"\".\"t\" (\"c'd\");\n"));
	plan_free(&p);
	config_free(&c);
	plan_tree_free(&t);
}
END_TEST

/* With the table's rows from the catalog (plan --dsn): p(collision) for
 * them too, and the birthday bound's warning in step 2 where it has one
 * (the unique index comes after the backfill, so it rejects nothing). */
START_TEST(test_idspace_with_rows)
{
	struct plan_tree plain;
	struct config c;
	struct plan p;
	const char *text;

	memset(&plain, 0, sizeof plain);
	plain.rows = 1e6;
	make_config(&c, "--table", "t", "--column", "c", NULL);
	build_tree(&p, &c, &plain);
	text = find(&p, "_backfill_", "up")->text;
	ck_assert_ptr_nonnull(strstr(text, "-- Id space: 21 symbols of 64 (10^37.9 "
				     "distinct ids); 1e+09 ids: p(collision) ~ "
				     "5.9e-21; for the table's rows, 1,000,000 ids: "
				     "p(collision) ~ 5.9e-27.\n"));
	ck_assert_ptr_null(strstr(text, "-- Warning:"));
	plan_free(&p);
	config_free(&c);

	plain.rows = 100000;
	make_config(&c, "--table", "t", "--column", "c", "--size", "3", NULL);
	build_tree(&p, &c, &plain);
	text = find(&p, "_backfill_", "up")->text;
	ck_assert_ptr_nonnull(strstr(text, "-- Id space: 3 symbols of 64 (262,144 "
				     "distinct ids); 1e+09 ids: p(collision) = 1; "
				     "for the table's rows, 100,000 ids: "
				     "p(collision) ~ 1.\n"));
	ck_assert_ptr_nonnull(strstr(text, "-- Warning: duplicates are likely: "
				     "p(collision) ~ 1 over 100,000 rows with "
				     "262,144 distinct ids and no unique index on "
				     "the column; use a larger --size, create the "
				     "unique index first, or pass --allow-duplicates.\n"));
	plan_free(&p);
	config_free(&c);

	make_config(&c, "--table", "t", "--column", "c", "--size", "3",
		    "--allow-duplicates", NULL);
	build_tree(&p, &c, &plain);
	text = find(&p, "_backfill_", "up")->text;
	ck_assert_ptr_nonnull(strstr(text, "no unique index on the column; filling "
				     "anyway (--allow-duplicates).\n"));
	plan_free(&p);
	config_free(&c);

	/* 64 ids for 100 rows: no option helps. */
	plain.rows = 100;
	make_config(&c, "--table", "t", "--column", "c", "--size", "1", NULL);
	build_tree(&p, &c, &plain);
	text = find(&p, "_backfill_", "up")->text;
	ck_assert_ptr_nonnull(strstr(text, "-- Warning: 64 distinct ids cannot give "
				     "100 rows unique ids; use a larger --size or "
				     "--alphabet.\n"));
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_partitions_need_dsn)
{
	struct plan_tree plain;
	struct config c;
	struct plan without, with;
	const char *a, *b;

	/* Without the catalog, the index step says how to plan a
	 * partitioned table; read as a plain table, it does not. */
	memset(&plain, 0, sizeof plain);
	make_config(&c, "--table", "orders", "--column", "public_id", NULL);
	build(&without, &c, T0);
	build_tree(&with, &c, &plain);
	ck_assert_int_eq(without.nfiles, with.nfiles);
	a = find(&without, "_unique_index_", "up")->text;
	b = find(&with, "_unique_index_", "up")->text;
	ck_assert_ptr_nonnull(strstr(a, "-- Planned without --dsn, for a plain "
				     "table: on a partitioned table\n"));
	ck_assert_ptr_nonnull(strstr(a, "Plan with --dsn to get a step per "
				     "partition.\n"));
	ck_assert_ptr_null(strstr(b, "--dsn to get"));
	/* Otherwise the same files. */
	for (int i = 0; i < with.nfiles; i++) {
		ck_assert_str_eq(without.files[i].name, with.files[i].name);
		if (strstr(with.files[i].name, "_unique_index_") == NULL ||
		    strstr(with.files[i].name, ".down.") != NULL)
			ck_assert_str_eq(without.files[i].text, with.files[i].text);
	}
	plan_free(&without);
	plan_free(&with);
	config_free(&c);
}
END_TEST

/* ---- --null-index: the partial index WHERE column IS NULL --------------- */

/* Whether name matches sqlx's pattern for a reversible migration. */
static bool regexec_name(const char *name)
{
	regex_t re;
	bool ok;

	ck_assert_int_eq(regcomp(&re, "^[0-9]{14}_[a-z0-9_]+\\.(up|down)\\.sql$",
				 REG_EXTENDED | REG_NOSUB), 0);
	ok = regexec(&re, name, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The SQL of a file: its last line. */
static const char *last_line(const char *text)
{
	size_t n = strlen(text);

	ck_assert(n > 1 && text[n - 1] == '\n');
	while (n > 1 && text[n - 2] != '\n')
		n--;
	return text + n - 1;
}

START_TEST(test_null_index_files)
{
	static const char *const want[] = {
		"20240102030405_add_public_id_to_orders",
		"20240102030406_backfill_public_id_in_orders",
		"20240102030407_create_public_id_null_index_on_orders",
		"20240102030408_add_public_id_not_null_check_to_orders",
		"20240102030409_validate_public_id_not_null_check_on_orders",
		"20240102030410_set_public_id_not_null_on_orders",
		"20240102030411_create_public_id_unique_index_on_orders",
		"20240102030412_drop_public_id_null_index_on_orders",
	};
	static const char create[] =
		"CREATE INDEX CONCURRENTLY IF NOT EXISTS \"orders_public_id_null_idx\" "
		"ON \"shop\".\"orders\" (\"public_id\") WHERE \"public_id\" IS NULL;\n";
	static const char drop[] =
		"DROP INDEX CONCURRENTLY IF EXISTS \"shop\".\"orders_public_id_null_idx\";\n";
	struct config c;
	struct plan p;
	const char *text;

	/* Off by default. */
	make_config(&c, "--table", "orders", "--column", "public_id", NULL);
	ck_assert(!c.null_index);
	build(&p, &c, T0);
	ck_assert_int_eq(count_named(&p, "null_index"), 0);
	plan_free(&p);
	config_free(&c);

	make_config(&c, "--schema", "shop", "--table", "orders", "--column",
		    "public_id", "--null-index", "--no-default", NULL);
	build(&p, &c, T0);
	ck_assert_int_eq(p.nsteps, 8);
	for (int i = 0; i < p.nfiles; i++) {
		const struct plan_file *f = &p.files[i];
		char name[PLAN_NAME_LEN];
		bool null_idx = strstr(f->name, "_null_index_") != NULL;

		/* up and down in pairs, in the order of want */
		snprintf(name, sizeof name, "%s.%s.sql", want[i / 2],
			 i % 2 ? "down" : "up");
		ck_assert_str_eq(f->name, name);
		ck_assert_msg(strstr(f->text, " of 8 (") != NULL, "%s", f->name);
		/* Concurrent: the marker on the first line, one statement. */
		if (null_idx) {
			ck_assert_msg(starts_with(f->text, "-- no-transaction\n"),
				      "%s", f->name);
			ck_assert_int_eq(statements(f->text), 1);
			ck_assert_msg(strstr(f->text, "lock_timeout;") == NULL,
				      "%s", f->name);
		}
	}
	/* Built right after the backfill (the backfill's updates stay HOT),
	 * on the column itself; its down drops it. */
	text = find(&p, "create_public_id_null_index_", "up")->text;
	ck_assert_str_eq(last_line(text), create);
	ck_assert_ptr_nonnull(strstr(text, "step 3 of 8 (up)"));
	ck_assert_str_eq(last_line(find(&p, "create_public_id_null_index_",
					"down")->text), drop);
	/* What it is for, what it costs, when it goes. */
	ck_assert_ptr_nonnull(strstr(text, "What it is for: cheap idle service "
				     "passes."));
	ck_assert_ptr_nonnull(strstr(text, "--   SELECT EXISTS (SELECT 1 FROM "
				     "\"shop\".\"orders\" WHERE \"public_id\" IS NULL)\n"));
	ck_assert_ptr_nonnull(strstr(text, "with this index it reads the index "
				     "instead, a few pages"));
	ck_assert_ptr_nonnull(strstr(text, "-- Its cost: one more index "
				     "maintained on inserts and on the backfill's\n"
				     "-- updates, until step 8 drops it"));
	ck_assert_ptr_nonnull(strstr(text, "no update of the column is HOT"));
	ck_assert_ptr_nonnull(strstr(text, "IF NOT EXISTS keeps an index"));
	ck_assert_ptr_nonnull(strstr(text, "On \"public_id\" itself"));
	/* At the end, after the unique index: dropped; its down builds it
	 * again, the same statement as step 3's. */
	text = find(&p, "drop_public_id_null_index_", "up")->text;
	ck_assert_str_eq(last_line(text), drop);
	ck_assert_ptr_nonnull(strstr(text, "-- Step 3 built "
				     "\"shop\".\"orders_public_id_null_idx\""));
	ck_assert_ptr_nonnull(strstr(text, "Since step 6 made \"public_id\" "
				     "NOT NULL the index is empty"));
	ck_assert_str_eq(last_line(find(&p, "drop_public_id_null_index_",
					"down")->text), create);
	/* Nothing lost by either down. */
	ck_assert_ptr_nonnull(strstr(find(&p, "create_public_id_null_index_",
					  "down")->text, "No data is lost."));
	ck_assert_ptr_nonnull(strstr(find(&p, "drop_public_id_null_index_",
					  "down")->text, "No data is lost."));
	/* The other steps count from the step numbers they refer to. */
	text = find(&p, "_backfill_", "up")->text;
	ck_assert_ptr_nonnull(strstr(text, "Run it after step 1 and before step 4."));
	ck_assert_ptr_nonnull(strstr(find(&p, "_backfill_", "down")->text,
				     "until step 1's down"));
	ck_assert_ptr_nonnull(strstr(find(&p, "validate_", "up")->text,
				     "run the backfill (step 2)"));
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_null_index_options)
{
	struct config c;
	struct plan p;
	const char *text;

	/* --key: the index is on the key columns. */
	make_config(&c, "--table", "t", "--column", "c", "--null-index",
		    "--key", "region,Id", "--no-default", NULL);
	build(&p, &c, T0);
	text = find(&p, "create_c_null_index_on_t", "up")->text;
	ck_assert_str_eq(last_line(text), "CREATE INDEX CONCURRENTLY IF NOT "
			 "EXISTS \"t_c_null_idx\" ON \"t\" (\"region\", \"Id\") "
			 "WHERE \"c\" IS NULL;\n");
	ck_assert_ptr_nonnull(strstr(text, "On the --key columns (\"region\", "
				     "\"Id\"): key-ordered batches"));
	ck_assert_str_eq(last_line(find(&p, "drop_c_null_index_on_t",
					"down")->text), last_line(text));
	plan_free(&p);
	config_free(&c);

	/* --no-unique: dropped right after SET NOT NULL. */
	make_config(&c, "--table", "t", "--column", "c", "--null-index",
		    "--no-unique", "--no-default", NULL);
	build(&p, &c, T0);
	ck_assert_int_eq(p.nsteps, 7);
	ck_assert_ptr_nonnull(strstr(p.files[10].name, "_set_c_not_null_on_t."));
	ck_assert_ptr_nonnull(strstr(p.files[12].name, "_drop_c_null_index_on_t."));
	plan_free(&p);
	config_free(&c);

	/* --no-not-null: the column stays nullable, the index stays. */
	make_config(&c, "--table", "t", "--column", "c", "--null-index",
		    "--no-not-null", "--no-default", NULL);
	build(&p, &c, T0);
	ck_assert_int_eq(p.nsteps, 4);
	ck_assert_int_eq(count_named(&p, "create_c_null_index_on_t"), 2);
	ck_assert_int_eq(count_named(&p, "drop_c_null_index"), 0);
	ck_assert_ptr_nonnull(strstr(find(&p, "create_c_null_index_on_t", "up")->text,
				     "until you drop it: with --no-not-null no "
				     "step does"));
	plan_free(&p);

	/* Both left out: add, backfill, index. */
	config_free(&c);
	make_config(&c, "--table", "t", "--column", "c", "--null-index",
		    "--no-not-null", "--no-unique", "--no-default", NULL);
	build(&p, &c, T0);
	ck_assert_int_eq(p.nsteps, 3);
	ck_assert_ptr_nonnull(strstr(p.files[4].name, "_create_c_null_index_on_t."));
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_null_index_hostile_names)
{
	struct config c;
	struct plan p;
	const char *text;
	char a60[61], want[PLAN_MAX_IDENT + 1], sql[256];

	make_config(&c, "--schema", "My \"S\"", "--table",
		    "t\"\n; DROP TABLE victim; --", "--column", "c'd\"e",
		    "--null-index", "--key", "k\"); DROP TABLE victim; --", "--no-default", NULL);
	build(&p, &c, T0);
	for (int i = 0; i < p.nfiles; i++) {
		char *bare = bare_sql(p.files[i].text);

		ck_assert_msg(strstr(bare, "victim") == NULL, "%s: %s",
			      p.files[i].name, bare);
		free(bare);
		ck_assert_msg(regexec_name(p.files[i].name), "%s", p.files[i].name);
	}
	text = find(&p, "create_c_d_e_null_index_", "up")->text;
	ck_assert(ends_with(text,
		"\nCREATE INDEX CONCURRENTLY IF NOT EXISTS "
		"\"t\"\"\n; DROP TABLE victim; --_c'd\"\"e_null_idx\" ON "
		"\"My \"\"S\"\"\".\"t\"\"\n; DROP TABLE victim; --\" "
		"(\"k\"\"); DROP TABLE victim; --\") WHERE \"c'd\"\"e\" IS NULL;\n"));
	/* In comments the newline is escaped. */
	ck_assert_ptr_nonnull(strstr(text, "--   SELECT EXISTS (SELECT 1 FROM "
		"\"My \"\"S\"\"\".\"t\"\"\\x0a; DROP TABLE victim; --\" WHERE "
		"\"c'd\"\"e\" IS NULL)\n"));
	ck_assert(ends_with(find(&p, "drop_c_d_e_null_index_", "up")->text,
		"\nDROP INDEX CONCURRENTLY IF EXISTS \"My \"\"S\"\"\".\"t\"\"\n; "
		"DROP TABLE victim; --_c'd\"\"e_null_idx\";\n"));
	plan_free(&p);
	config_free(&c);

	/* Long names: 63 bytes, as PostgreSQL would cut them. */
	memset(a60, 'a', 60);
	a60[60] = '\0';
	make_config(&c, "--table", a60, "--column", "bb", "--null-index", "--no-default", NULL);
	build(&p, &c, T0);
	plan_object_name(a60, "bb", PLAN_NULL_INDEX_LABEL, want);
	ck_assert_uint_eq(strlen(want), PLAN_MAX_IDENT);
	snprintf(sql, sizeof sql, "%.51s_bb_null_idx", a60);
	ck_assert_str_eq(want, sql);
	snprintf(sql, sizeof sql, "DROP INDEX CONCURRENTLY IF EXISTS \"%s\";\n",
		 want);
	ck_assert_str_eq(last_line(find(&p, "create_bb_null_index_", "down")->text),
			 sql);
	plan_free(&p);
	config_free(&c);
}
END_TEST

START_TEST(test_null_index_partitions)
{
	struct plan_tree t;
	struct config c;
	struct plan p;
	const char *text;
	int first_drop;

	/* One per leaf partition, none on a partitioned one. */
	events_tree(&t);
	make_config(&c, "--table", "events", "--column", "public_id",
		    "--null-index", "--no-default", NULL);
	build_tree(&p, &c, &t);
	/* add, backfill, 4 builds, 3 NOT NULL steps, 4 unique, 4 drops */
	ck_assert_int_eq(p.nsteps, 1 + 1 + 4 + 3 + 4 + 4);
	ck_assert_ptr_nonnull(strstr(p.files[2].name, "_backfill_"));
	ck_assert_str_eq(p.files[4].name, "20240102030407_create_public_id_null_"
			 "index_on_events_eu.up.sql");
	ck_assert_str_eq(p.files[10].name, "20240102030410_create_public_id_null_"
			 "index_on_events_am_1.up.sql");
	first_drop = 2 * (p.nsteps - 4);
	ck_assert_str_eq(p.files[first_drop].name, "20240102030418_drop_"
			 "public_id_null_index_on_events_eu.up.sql");
	ck_assert_int_eq(count_named(&p, "null_index_on_events."), 0);
	ck_assert_int_eq(count_named(&p, "null_index_on_events_am."), 0);
	for (int i = 0; i < p.nfiles; i++) {
		const struct plan_file *f = &p.files[i];

		if (strstr(f->name, "_null_index_") == NULL)
			continue;
		ck_assert_msg(starts_with(f->text, "-- no-transaction\n"), "%s",
			      f->name);
		ck_assert_int_eq(statements(f->text), 1);
		ck_assert_msg(strstr(f->text, "--dsn to get") == NULL, "%s",
			      f->name);
	}
	/* In the leaf's schema, named for the leaf; paired with its drop. */
	text = find(&p, "create_public_id_null_index_on_events_other", "up")->text;
	ck_assert_str_eq(last_line(text), "CREATE INDEX CONCURRENTLY IF NOT "
			 "EXISTS \"events_other_public_id_null_idx\" ON "
			 "\"archive\".\"events_other\" (\"public_id\") WHERE "
			 "\"public_id\" IS NULL;\n");
	ck_assert_ptr_nonnull(strstr(text, "-- Partition 2 of 4: "
				     "\"archive\".\"events_other\"\n"));
	ck_assert_ptr_nonnull(strstr(text, "until step 15 drops it"));
	ck_assert_ptr_nonnull(strstr(text, "A partition created later gets\n"
				     "-- none"));
	/* The probe is on the table. */
	ck_assert_ptr_nonnull(strstr(text, "SELECT 1 FROM \"events\" WHERE"));
	ck_assert_str_eq(last_line(find(&p, "create_public_id_null_index_on_"
					"events_other", "down")->text),
			 "DROP INDEX CONCURRENTLY IF EXISTS "
			 "\"archive\".\"events_other_public_id_null_idx\";\n");
	text = find(&p, "drop_public_id_null_index_on_events_other", "up")->text;
	ck_assert_ptr_nonnull(strstr(p.files[first_drop + 2].name,
				     "drop_public_id_null_index_on_events_other."));
	ck_assert_ptr_nonnull(strstr(text, "step 15 of 17 (up)"));
	ck_assert_ptr_nonnull(strstr(text, "-- Step 4 built "
				     "\"archive\".\"events_other_public_id_null_idx\""));
	ck_assert_str_eq(last_line(find(&p, "drop_public_id_null_index_on_"
					"events_other", "down")->text),
			 last_line(find(&p, "create_public_id_null_index_on_"
					"events_other", "up")->text));
	/* The backfill still refers to the right steps. */
	ck_assert_ptr_nonnull(strstr(find(&p, "_backfill_", "up")->text,
				     "Run it after step 1 and before step 7."));
	plan_free(&p);
	config_free(&c);
	plan_tree_free(&t);

	/* A foreign-table partition gets none (--no-unique, as plan needs
	 * for one); the files say so, and their drops at the end say when
	 * they were built. */
	tree_init(&t, false, "LIST (region)");
	add_rel(&t, "public", "ev", 'p', -1);
	add_rel(&t, "public", "ev_a_remote", 'f', 0);
	add_rel(&t, "public", "ev_eu", 'r', 0);
	make_config(&c, "--table", "ev", "--column", "c", "--null-index",
		    "--no-unique", "--no-default", NULL);
	build_tree(&p, &c, &t);
	ck_assert_int_eq(p.nsteps, 1 + 1 + 1 + 3 + 1);
	ck_assert_int_eq(count_named(&p, "ev_a_remote"), 0);
	text = find(&p, "create_c_null_index_on_ev_eu", "up")->text;
	/* numbered among all leaves, as the unique index steps are */
	ck_assert_ptr_nonnull(strstr(text, "-- Partition 2 of 2: "
				     "\"public\".\"ev_eu\"\n"));
	ck_assert_ptr_nonnull(strstr(text, "Foreign-table partitions get none"));
	ck_assert_ptr_nonnull(strstr(p.files[12].name, "_drop_c_null_index_on_ev_eu."));
	ck_assert_ptr_nonnull(strstr(p.files[12].text, "-- Step 3 built "
				     "\"public\".\"ev_eu_c_null_idx\""));
	plan_free(&p);
	config_free(&c);
	plan_tree_free(&t);
}
END_TEST

/* ---- the directory ------------------------------------------------------ */

static char *temp_dir(void)
{
	char *d = strdup("/tmp/nb-test-plan-XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void touch(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

START_TEST(test_first_version)
{
	char *dir = temp_dir(), err[512], missing[600];
	time_t first;

	/* Empty: now. */
	ck_assert_int_eq(plan_first_version(dir, plan_format_find(NULL), T0,
					    &first, err, sizeof err), 0);
	ck_assert_int_eq(first, T0);
	snprintf(missing, sizeof missing, "%s/none", dir);
	ck_assert_int_eq(plan_first_version(missing, plan_format_find(NULL), T0,
					    &first, err, sizeof err), 0);
	ck_assert_int_eq(first, T0);

	/* Older migrations and other files do not matter. */
	touch(dir, "20200101000000_init.sql");
	touch(dir, "0001_very_old.up.sql");
	touch(dir, "README.md");
	touch(dir, "29991231235959_not_sql.txt");
	ck_assert_int_eq(plan_first_version(dir, plan_format_find(NULL), T0,
					    &first, err, sizeof err), 0);
	ck_assert_int_eq(first, T0);

	/* A later one (clock skew, a plan made a second ago): after it. */
	touch(dir, "20240102030500_later.down.sql");
	ck_assert_int_eq(plan_first_version(dir, plan_format_find(NULL), T0,
					    &first, err, sizeof err), 0);
	ck_assert_int_eq(first, T0 + 55 + 1);

	/* A version that is no time and later than now: nothing can follow. */
	touch(dir, "99999999999999_odd.up.sql");
	ck_assert_int_eq(plan_first_version(dir, plan_format_find(NULL), T0,
					    &first, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "99999999999999"));
	remove_dir(dir);
}
END_TEST

START_TEST(test_write)
{
	char *dir = temp_dir(), err[512], path[1024], sub[600];
	struct config c;
	struct plan p;
	int config_error;
	FILE *f;
	char buf[64];

	make_config(&c, "--table", "orders", "--column", "public_id", NULL);
	build(&p, &c, T0);

	/* Into a directory that does not exist yet. */
	snprintf(sub, sizeof sub, "%s/migrations", dir);
	ck_assert_msg(plan_write(&p, sub, &config_error, err, sizeof err) == 0,
		      "%s", err);
	ck_assert_int_eq(count_files(sub), 14);
	snprintf(path, sizeof path, "%s/%s", sub, p.files[12].name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
	ck_assert_str_eq(buf, "-- no-transaction\n");
	fclose(f);

	/* The same plan again, even with new versions: refused, nothing written. */
	plan_free(&p);
	build(&p, &c, T0 + 100);
	ck_assert_int_eq(plan_write(&p, sub, &config_error, err, sizeof err), -1);
	ck_assert_int_eq(config_error, 1);
	ck_assert_ptr_nonnull(strstr(err, "already has step"));
	ck_assert_int_eq(count_files(sub), 14);

	/* Not a directory; no parent. */
	touch(dir, "file");
	snprintf(path, sizeof path, "%s/file", dir);
	ck_assert_int_eq(plan_write(&p, path, &config_error, err, sizeof err), -1);
	ck_assert_int_eq(config_error, 1);
	ck_assert_ptr_nonnull(strstr(err, "not a directory"));
	snprintf(path, sizeof path, "%s/no/parent", dir);
	ck_assert_int_eq(plan_write(&p, path, &config_error, err, sizeof err), -1);
	ck_assert_int_eq(config_error, 1);

	plan_free(&p);
	config_free(&c);
	remove_dir(strdup(sub));
	unlink(path);
	snprintf(path, sizeof path, "%s/file", dir);
	unlink(path);
	remove_dir(dir);
}
END_TEST

static Suite *plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_quote_ident);
	tcase_add_test(tc, test_object_name);
	tcase_add_test(tc, test_slug);
	tcase_add_test(tc, test_file_names);
	tcase_add_test(tc, test_versions_increase);
	tcase_add_test(tc, test_hostile_names_quoted);
	tcase_add_test(tc, test_no_transaction);
	tcase_add_test(tc, test_lock_timeout);
	tcase_add_test(tc, test_steps_sql);
	tcase_add_test(tc, test_data_loss_said);
	tcase_add_test(tc, test_options_in_comments);
	tcase_add_test(tc, test_idspace_with_rows);
	tcase_add_test(tc, test_leave_out_steps);
	tcase_add_test(tc, test_default_step);
	tcase_add_test(tc, test_partitions_unique_each);
	tcase_add_test(tc, test_partitions_one_index);
	tcase_add_test(tc, test_partitions_hostile_names);
	tcase_add_test(tc, test_partitions_need_dsn);
	tcase_add_test(tc, test_null_index_files);
	tcase_add_test(tc, test_null_index_options);
	tcase_add_test(tc, test_null_index_hostile_names);
	tcase_add_test(tc, test_null_index_partitions);
	tcase_add_test(tc, test_first_version);
	tcase_add_test(tc, test_write);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(plan_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
