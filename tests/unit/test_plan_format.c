/*
 * test_plan_format.c - plan_format.h: the statement finder on made-up SQL
 * (comments, quoted names, E'' strings, dollar quotes, nested comments),
 * the format table's names and versions, file names parsed back, and each
 * format's files of one step: names, markers, statement blocks, escaping,
 * and the refusals.
 */
#include "plan_format.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

/* The statements of t, as "start..end" texts joined by '|', with a '*'
 * before each one that needs a block and '!' for a dashed line. */
static char *stmts(const char *t)
{
	static char out[2048];
	struct plan_sql_stmt st;
	size_t pos = 0, o = 0;

	out[0] = '\0';
	while (plan_sql_next(t, &pos, &st)) {
		size_t n = st.end - st.start;

		while (n > 0 && t[st.start + n - 1] == '\n')
			n--;
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%s%s%.*s",
				      o ? "|" : "", st.block ? "*" : "",
				      st.dashed_line ? "!" : "", (int)n,
				      t + st.start);
		ck_assert_uint_le(st.line, st.start);
		ck_assert(st.line == 0 || t[st.line - 1] == '\n');
	}
	return out;
}

START_TEST(test_statements)
{
	ck_assert_str_eq(stmts("-- a comment; not a statement\nSELECT 1;\n"),
			 "SELECT 1;");
	ck_assert_str_eq(stmts("SET a = 1;\nALTER TABLE t ADD c int;\nRESET a;\n"),
			 "SET a = 1;|ALTER TABLE t ADD c int;|RESET a;");
	ck_assert_str_eq(stmts("-- only\n-- comments\n"), "");
	ck_assert_str_eq(stmts(""), "");
	/* ';' inside quotes ends nothing, and a line-splitting tool needs a block */
	ck_assert_str_eq(stmts("ALTER TABLE \"a;b\" ADD c int;\nSELECT 2;\n"),
			 "*ALTER TABLE \"a;b\" ADD c int;|SELECT 2;");
	ck_assert_str_eq(stmts("SELECT 'it''s; here';\n"), "*SELECT 'it''s; here';");
	ck_assert_str_eq(stmts("SELECT E'\\'; still';\n"), "*SELECT E'\\'; still';");
	ck_assert_str_eq(stmts("SELECT \"x\"\"--y\";\n"), "*SELECT \"x\"\"--y\";");
	/* a plain '...' ends at the first quote: a backslash is just a byte */
	ck_assert_str_eq(stmts("SELECT 'a\\';\nSELECT 3;\n"), "SELECT 'a\\';|SELECT 3;");
	/* dollar quotes, tagged or not; $1 is no quote */
	ck_assert_str_eq(stmts("DO $nb$\nBEGIN\n  PERFORM 1;\nEND\n$nb$;\nSELECT 4;\n"),
			 "*DO $nb$\nBEGIN\n  PERFORM 1;\nEND\n$nb$;|SELECT 4;");
	ck_assert_str_eq(stmts("SELECT $$a;b$$;\n"), "*SELECT $$a;b$$;");
	ck_assert_str_eq(stmts("SELECT $1;\nSELECT 5;\n"), "SELECT $1;|SELECT 5;");
	ck_assert_str_eq(stmts("SELECT a$b$c;\n"), "SELECT a$b$c;");
	/* nested block comments */
	ck_assert_str_eq(stmts("/* a /* b; */ c; */ SELECT 6;\n"), "SELECT 6;");
	/* a line in a quoted part that starts with "--" */
	ck_assert_str_eq(stmts("ALTER TABLE \"x\n-- +goose Down\" ADD c int;\n"),
			 "*!ALTER TABLE \"x\n-- +goose Down\" ADD c int;");
	/* unterminated: what is left */
	ck_assert_str_eq(stmts("SELECT 7"), "SELECT 7");
}
END_TEST

START_TEST(test_table)
{
	static const char *const names[] = { "sqlx", "golang-migrate", "goose",
		"dbmate", "sql-migrate", "knex", "flyway", "psql" };
	char v[24];

	ck_assert_ptr_eq(plan_format_find(NULL), plan_format_find("sqlx"));
	ck_assert_ptr_null(plan_format_find("liquibase"));
	ck_assert_ptr_null(plan_format_find("SQLX"));
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct plan_format *f = plan_format_find(names[i]);

		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(strstr(plan_format_names(), names[i]));
		ck_assert_ptr_nonnull(f->no_tx[0]);
		ck_assert_ptr_nonnull(f->no_tx[1]);
		ck_assert_ptr_nonnull(f->rollback);
	}
	ck_assert_int_eq(plan_format_version(plan_format_find("goose"),
					     1704164645, v, sizeof v), 0);
	ck_assert_str_eq(v, "20240102030405");
	ck_assert_int_eq(plan_format_version(plan_format_find("psql"), 7, v,
					     sizeof v), 0);
	ck_assert_str_eq(v, "07");
	ck_assert_int_eq(plan_format_version(plan_format_find("psql"), 123, v,
					     sizeof v), 0);
	ck_assert_str_eq(v, "123");
}
END_TEST

static size_t parse(const char *fmt, const char *name, char *desc)
{
	const char *digits, *d;
	size_t dl, n = plan_format_parse(plan_format_find(fmt), name, &digits,
					 &d, &dl);

	if (n > 0) {
		ck_assert_uint_lt(dl, 64);
		memcpy(desc, d, dl);
		desc[dl] = '\0';
	}
	return n;
}

START_TEST(test_parse)
{
	char d[64];

	ck_assert_uint_eq(parse("sqlx", "20240102030405_add_x.up.sql", d), 14);
	ck_assert_str_eq(d, "add_x");
	ck_assert_uint_eq(parse("sqlx", "1_add_x.down.sql", d), 1);
	ck_assert_str_eq(d, "add_x");
	ck_assert_uint_eq(parse("goose", "00002_add_x.sql", d), 5);
	ck_assert_str_eq(d, "add_x");
	ck_assert_uint_eq(parse("sqlx", "V1__add_x.sql", d), 0);
	ck_assert_uint_eq(parse("sqlx", "20240102030405_x.js", d), 0);
	ck_assert_uint_eq(parse("knex", "20240102030405_add_x.js", d), 14);
	ck_assert_str_eq(d, "add_x");
	ck_assert_uint_eq(parse("knex", "20240102030405_add_x.sql", d), 0);
	ck_assert_uint_eq(parse("flyway", "V20240102030405__add_x.sql", d), 14);
	ck_assert_str_eq(d, "add_x");
	ck_assert_uint_eq(parse("flyway", "U3__add_x.sql", d), 1);
	ck_assert_uint_eq(parse("flyway", "V3_add_x.sql", d), 0);
	ck_assert_uint_eq(parse("flyway", "V3__add_x.sql.conf", d), 0);
	ck_assert_uint_eq(parse("psql", "07_add_x.down.sql", d), 2);
	ck_assert_str_eq(d, "add_x");
	ck_assert_uint_eq(parse("psql", "notes.sql", d), 0);
}
END_TEST

static const char UP[] =
	"-- step 1 (up)\n--\n-- why\n"
	"SET lock_timeout = '2000ms';\n"
	"DO $nb$\nDECLARE\n  x int;\nBEGIN\nEND\n$nb$;\n"
	"ALTER TABLE \"t\" ADD COLUMN \"c?\" text;\n"
	"RESET lock_timeout;\n";
static const char DOWN[] = "-- step 1 (down)\n--\n-- nothing to undo\n";

struct files {
	struct plan_file f[PLAN_FORMAT_MAX_FILES];
	int n;
};

static int write_step(const char *fmt, bool outside, const char *up,
		      struct files *out, char *err, size_t errlen)
{
	const struct plan_format *f = plan_format_find(fmt);
	struct plan_format_step s = { "20240102030405", "add_c_to_t", up, DOWN,
				      outside, 1, 6 };

	memset(out, 0, sizeof *out);
	return f->write(f, &s, out->f, &out->n, err, errlen);
}

static void files_free(struct files *fs)
{
	for (int i = 0; i < fs->n; i++)
		free(fs->f[i].text);
}

START_TEST(test_pair)
{
	struct files fs;
	char err[256];

	ck_assert_int_eq(write_step("sqlx", true, UP, &fs, err, sizeof err), 0);
	ck_assert_int_eq(fs.n, 2);
	ck_assert_str_eq(fs.f[0].name, "20240102030405_add_c_to_t.up.sql");
	ck_assert_str_eq(fs.f[1].name, "20240102030405_add_c_to_t.down.sql");
	ck_assert(strncmp(fs.f[0].text, "-- no-transaction\n-- step 1", 27) == 0);
	ck_assert(strncmp(fs.f[1].text, "-- no-transaction\n-- step 1", 27) == 0);
	files_free(&fs);
	ck_assert_int_eq(write_step("sqlx", false, UP, &fs, err, sizeof err), 0);
	ck_assert_str_eq(fs.f[0].text, UP);
	ck_assert_str_eq(fs.f[1].text, DOWN);
	files_free(&fs);
	/* golang-migrate: no marker, the text as it is */
	ck_assert_int_eq(write_step("golang-migrate", true, UP, &fs, err,
				    sizeof err), 0);
	ck_assert_str_eq(fs.f[0].name, "20240102030405_add_c_to_t.up.sql");
	ck_assert_str_eq(fs.f[0].text, UP);
	files_free(&fs);
}
END_TEST

START_TEST(test_sections)
{
	struct files fs;
	char err[256];
	const char *t;

	ck_assert_int_eq(write_step("goose", true, UP, &fs, err, sizeof err), 0);
	ck_assert_int_eq(fs.n, 1);
	ck_assert_str_eq(fs.f[0].name, "20240102030405_add_c_to_t.sql");
	t = fs.f[0].text;
	ck_assert(strncmp(t, "-- +goose NO TRANSACTION\n-- +goose Up\n-- step 1", 47) == 0);
	ck_assert_ptr_nonnull(strstr(t, "SET lock_timeout = '2000ms';\n"
				     "-- +goose StatementBegin\nDO $nb$\n"));
	ck_assert_ptr_nonnull(strstr(t, "$nb$;\n-- +goose StatementEnd\nALTER"));
	ck_assert_ptr_nonnull(strstr(t, "RESET lock_timeout;\n\n-- +goose Down\n-- step 1 (down)"));
	/* only the DO block is one */
	ck_assert_ptr_null(strstr(strstr(t, "StatementEnd"), "StatementBegin"));
	files_free(&fs);
	ck_assert_int_eq(write_step("goose", false, UP, &fs, err, sizeof err), 0);
	ck_assert(strncmp(fs.f[0].text, "-- +goose Up\n", 13) == 0);
	files_free(&fs);

	ck_assert_int_eq(write_step("dbmate", true, UP, &fs, err, sizeof err), 0);
	t = fs.f[0].text;
	ck_assert(strncmp(t, "-- migrate:up transaction:false\n", 32) == 0);
	ck_assert_ptr_nonnull(strstr(t, "\n-- migrate:down transaction:false\n"));
	ck_assert_ptr_null(strstr(t, "StatementBegin"));   /* sent whole */
	files_free(&fs);
	ck_assert_int_eq(write_step("dbmate", false, UP, &fs, err, sizeof err), 0);
	ck_assert(strncmp(fs.f[0].text, "-- migrate:up\n", 14) == 0);
	ck_assert_ptr_nonnull(strstr(fs.f[0].text, "\n-- migrate:down\n"));
	files_free(&fs);

	ck_assert_int_eq(write_step("sql-migrate", true, UP, &fs, err, sizeof err), 0);
	t = fs.f[0].text;
	ck_assert(strncmp(t, "-- +migrate Up notransaction\n", 29) == 0);
	ck_assert_ptr_nonnull(strstr(t, "\n-- +migrate Down notransaction\n"));
	ck_assert_ptr_nonnull(strstr(t, "-- +migrate StatementBegin\nDO $nb$"));
	/* a bare "--" line is left empty: sql-migrate would keep it */
	ck_assert_ptr_null(strstr(t, "\n--\n"));
	ck_assert_ptr_nonnull(strstr(t, "-- step 1 (up)\n\n-- why\n"));
	files_free(&fs);

	/* a line of a quoted name that a tool would read as an annotation */
	ck_assert_int_eq(write_step("goose", false,
				    "ALTER TABLE \"a\n-- +goose Down\" ADD c int;\n",
				    &fs, err, sizeof err), -2);
	ck_assert_ptr_nonnull(strstr(err, "--format goose: a name holds a line break"));
	ck_assert_int_eq(fs.n, 0);
	ck_assert_int_eq(write_step("psql", false,
				    "ALTER TABLE \"a\n-- +goose Down\" ADD c int;\n",
				    &fs, err, sizeof err), 0);
	files_free(&fs);
}
END_TEST

START_TEST(test_knex)
{
	struct files fs;
	char err[256];
	const char *t;

	ck_assert_int_eq(write_step("knex", true, UP, &fs, err, sizeof err), 0);
	ck_assert_int_eq(fs.n, 1);
	ck_assert_str_eq(fs.f[0].name, "20240102030405_add_c_to_t.js");
	t = fs.f[0].text;
	ck_assert_ptr_nonnull(strstr(t, "\nexports.config = { transaction: false };\n"));
	ck_assert_ptr_nonnull(strstr(t, "exports.up = function (knex) {\n  return knex.raw(\n"
				     "    '-- step 1 (up)\\n' +\n"));
	ck_assert_ptr_nonnull(strstr(t, "    'SET lock_timeout = \\'2000ms\\';\\n' +\n"));
	ck_assert_ptr_nonnull(strstr(t, "ADD COLUMN \"c\\\\?\" text;\\n' +\n"));
	ck_assert_ptr_nonnull(strstr(t, "    'RESET lock_timeout;\\n');\n};\n"));
	ck_assert_ptr_nonnull(strstr(t, "exports.down = function (knex) {"));
	files_free(&fs);
	ck_assert_int_eq(write_step("knex", false, UP, &fs, err, sizeof err), 0);
	ck_assert_ptr_null(strstr(fs.f[0].text, "exports.config ="));
	files_free(&fs);
	ck_assert_int_eq(write_step("knex", false, "SELECT \"a\\?\";\n", &fs, err,
				    sizeof err), -2);
	ck_assert_ptr_nonnull(strstr(err, "knex.raw() cannot pass"));
	ck_assert_int_eq(write_step("knex", false, "SELECT '\x01';\n", &fs, err,
				    sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(fs.f[0].text, "'SELECT \\'\\x01\\';\\n');"));
	files_free(&fs);
}
END_TEST

START_TEST(test_flyway_psql)
{
	struct files fs;
	char err[256];

	ck_assert_int_eq(write_step("flyway", true, UP, &fs, err, sizeof err), 0);
	ck_assert_int_eq(fs.n, 4);
	ck_assert_str_eq(fs.f[0].name, "V20240102030405__add_c_to_t.sql");
	ck_assert_str_eq(fs.f[1].name, "U20240102030405__add_c_to_t.sql");
	ck_assert_str_eq(fs.f[2].name, "V20240102030405__add_c_to_t.sql.conf");
	ck_assert_str_eq(fs.f[3].name, "U20240102030405__add_c_to_t.sql.conf");
	ck_assert_str_eq(fs.f[0].text, UP);
	ck_assert_ptr_nonnull(strstr(fs.f[1].text, "Only Flyway Teams and"));
	ck_assert_str_eq(fs.f[2].text, "executeInTransaction=false\n");
	ck_assert_str_eq(fs.f[3].text, "executeInTransaction=false\n");
	files_free(&fs);
	ck_assert_int_eq(write_step("flyway", false, UP, &fs, err, sizeof err), 0);
	ck_assert_int_eq(fs.n, 2);
	files_free(&fs);

	ck_assert_int_eq(write_step("psql", false, UP, &fs, err, sizeof err), 0);
	ck_assert_int_eq(fs.n, 2);
	ck_assert_str_eq(fs.f[0].name, "20240102030405_add_c_to_t.sql");
	ck_assert_str_eq(fs.f[1].name, "20240102030405_add_c_to_t.down.sql");
	ck_assert_ptr_nonnull(strstr(fs.f[0].text, "-- why\nBEGIN;\nSET lock_timeout"));
	ck_assert_ptr_nonnull(strstr(fs.f[0].text, "RESET lock_timeout;\nCOMMIT;\n"));
	ck_assert_ptr_nonnull(strstr(fs.f[0].text,
				     "Rollback: 20240102030405_add_c_to_t.down.sql"));
	/* comments only: no transaction to open */
	ck_assert_ptr_null(strstr(fs.f[1].text, "BEGIN"));
	files_free(&fs);
	ck_assert_int_eq(write_step("psql", true, UP, &fs, err, sizeof err), 0);
	ck_assert_ptr_null(strstr(fs.f[0].text, "BEGIN;"));
	files_free(&fs);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("plan_format");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_statements);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_pair);
	tcase_add_test(tc, test_sections);
	tcase_add_test(tc, test_knex);
	tcase_add_test(tc, test_flyway_psql);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
