/*
 * status.c - `nanoid-backfill status`: list the jobs in a database's
 * progress tables, as a table or as JSON.
 *
 * The query is built from what the catalog says the progress schema holds:
 * the job_progress view's rows_done/rows_left/rate where it has them, else
 * the same figures computed from jobs and leases, else (tables of an older
 * version without leases or estimates) "unknown". A status command that
 * refuses to read last month's tables helps nobody.
 */
#include "status.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "check_config.h"
#include "config.h"
#include "db.h"
#include "exit_codes.h"
#include "log.h"
#include "progress.h"

#define LINE 1024
#define CELL 512
#define NCOLS 8

/* ---- formatting -------------------------------------------------------- */

void status_format_eta(char *buf, size_t len, double seconds)
{
	long long s;

	if (!(seconds >= 0) || seconds > 1e9) {
		snprintf(buf, len, "-");
		return;
	}
	s = (long long)llround(seconds);
	snprintf(buf, len, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
}

void status_format_age(char *buf, size_t len, double seconds)
{
	long long s;

	if (!(seconds >= 0) || seconds > 1e12) {
		/* A clock behind the server's by a moment: "0s ago". */
		snprintf(buf, len, seconds < 0 && seconds > -60 ? "0s ago" : "-");
		return;
	}
	s = (long long)seconds;
	if (s < 120)
		snprintf(buf, len, "%llds ago", s);
	else if (s < 120 * 60)
		snprintf(buf, len, "%lldm ago", s / 60);
	else if (s < 48 * 3600)
		snprintf(buf, len, "%lldh ago", s / 3600);
	else
		snprintf(buf, len, "%lldd ago", s / 86400);
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void status_json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	fputc('"', out);
	while (*p != '\0') {
		switch (*p) {
		case '"':  fputs("\\\"", out); p++; continue;
		case '\\': fputs("\\\\", out); p++; continue;
		case '\n': fputs("\\n", out); p++; continue;
		case '\r': fputs("\\r", out); p++; continue;
		case '\t': fputs("\\t", out); p++; continue;
		case '\b': fputs("\\b", out); p++; continue;
		case '\f': fputs("\\f", out); p++; continue;
		default:
			break;
		}
		if (*p < 0x20) {
			fprintf(out, "\\u%04x", *p);
			p++;
			continue;
		}
		n = utf8_len(p);
		if (n == 0) {
			fputs("\\ufffd", out);
			p++;
			continue;
		}
		fwrite(p, 1, n, out);
		p += n;
	}
	fputc('"', out);
}

/* Characters on screen: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* "name" with " doubled, as SQL quotes it; control characters as \xHH. */
static void quoted(char *buf, size_t len, const char *name)
{
	char *q = pgconn_quote_ident(name);

	db_display(q != NULL ? q : "?", buf, len);
	free(q);
}

static void target_text(char *buf, size_t len, const struct status_job *j)
{
	char s[CELL], t[CELL], c[CELL];

	quoted(s, sizeof s, j->schema);
	quoted(t, sizeof t, j->table);
	quoted(c, sizeof c, j->column);
	buf[0] = '\0';
	if (len == 0)
		return;
	/* Cut at len, as db_display cuts a long name. */
	strncat(buf, s, len - 1);
	strncat(buf, ".", len - 1 - strlen(buf));
	strncat(buf, t, len - 1 - strlen(buf));
	strncat(buf, ".", len - 1 - strlen(buf));
	strncat(buf, c, len - 1 - strlen(buf));
}

static double eta_of(const struct status_job *j)
{
	if (strcmp(j->state, progress_job_state_name(JOB_RUNNING)) != 0 || !(j->rate > 0) ||
	    j->rows_left < 0)
		return -1;
	return j->rows_left / j->rate;
}

void status_print_table(FILE *out, const struct status_job *jobs, int n)
{
	static const char *const head[NCOLS] = {
		"JOB", "TARGET", "STATE", "ROWS DONE", "ROWS LEFT", "RATE/S",
		"ETA", "UPDATED",
	};
	static const bool right[NCOLS] = {
		false, false, false, true, true, true, true, false,
	};
	char (*cells)[NCOLS][CELL];
	size_t w[NCOLS];
	int r, c;

	cells = calloc((size_t)n + 1, sizeof *cells);
	if (cells == NULL) {
		log_error("out of memory");
		return;
	}
	for (c = 0; c < NCOLS; c++)
		snprintf(cells[0][c], CELL, "%s", head[c]);
	for (r = 0; r < n; r++) {
		const struct status_job *j = &jobs[r];
		char (*row)[CELL] = cells[r + 1];

		db_display(j->job, row[0], CELL);
		target_text(row[1], CELL, j);
		db_display(j->state, row[2], CELL);
		snprintf(row[3], CELL, "%lld", j->rows_done);
		if (j->rows_left >= 0)
			snprintf(row[4], CELL, "%.0f", j->rows_left);
		else
			snprintf(row[4], CELL, "-");
		if (j->rate >= 0)
			snprintf(row[5], CELL, "%.0f", j->rate);
		else
			snprintf(row[5], CELL, "-");
		status_format_eta(row[6], CELL, eta_of(j));
		status_format_age(row[7], CELL, j->updated_ago);
	}
	for (c = 0; c < NCOLS; c++) {
		w[c] = 0;
		for (r = 0; r <= n; r++) {
			size_t x = width(cells[r][c]);

			if (x > w[c])
				w[c] = x;
		}
	}
	for (r = 0; r <= n; r++) {
		for (c = 0; c < NCOLS; c++) {
			size_t pad = w[c] - width(cells[r][c]);

			if (c > 0)
				fputs("  ", out);
			if (right[c])
				fprintf(out, "%*s", (int)pad, "");
			fputs(cells[r][c], out);
			if (!right[c] && c < NCOLS - 1)
				fprintf(out, "%*s", (int)pad, "");
		}
		fputc('\n', out);
	}
	free(cells);
}

/* v with prec decimals, or null when unknown (negative). */
static void json_number(FILE *out, double v, int prec)
{
	if (v < 0 || !isfinite(v))
		fputs("null", out);
	else
		fprintf(out, "%.*f", prec, v);
}

void status_print_json(FILE *out, const struct status_job *jobs, int n)
{
	char target[4 * CELL];
	char *raw;

	fputc('[', out);
	for (int r = 0; r < n; r++) {
		const struct status_job *j = &jobs[r];

		fputs(r ? ",\n  {" : "\n  {", out);
		fputs("\"job\": ", out);
		status_json_string(out, j->job);
		fputs(", \"schema\": ", out);
		status_json_string(out, j->schema);
		fputs(", \"table\": ", out);
		status_json_string(out, j->table);
		fputs(", \"column\": ", out);
		status_json_string(out, j->column);
		/* The target as SQL would name it, control characters raw:
		 * the JSON escaping takes care of them. */
		raw = NULL;
		{
			char *s = pgconn_quote_ident(j->schema);
			char *t = pgconn_quote_ident(j->table);
			char *c = pgconn_quote_ident(j->column);

			if (s && t && c &&
			    asprintf(&raw, "%s.%s.%s", s, t, c) < 0)
				raw = NULL;
			free(s);
			free(t);
			free(c);
		}
		if (raw == NULL)
			target_text(target, sizeof target, j);
		fputs(", \"target\": ", out);
		status_json_string(out, raw != NULL ? raw : target);
		free(raw);
		fputs(", \"state\": ", out);
		status_json_string(out, j->state);
		fprintf(out, ", \"rows_done\": %lld, \"rows_left\": ", j->rows_done);
		json_number(out, j->rows_left, 0);
		fputs(", \"rate\": ", out);
		json_number(out, j->rate, 1);
		fputs(", \"eta_seconds\": ", out);
		json_number(out, eta_of(j), 0);
		fputs(", \"updated_at\": ", out);
		status_json_string(out, j->updated_at);
		fputs(", \"updated_seconds_ago\": ", out);
		json_number(out, j->updated_ago, 1);
		fputc('}', out);
	}
	fputs(n ? "\n]\n" : "]\n", out);
}

/* ---- the query --------------------------------------------------------- */

/* Columns of jobs, leases and job_progress in the progress schema. */
struct shape {
	PGresult *res;
};

static bool has(const struct shape *sh, const char *rel, const char *col)
{
	for (int i = 0; i < PQntuples(sh->res); i++) {
		if (strcmp(PQgetvalue(sh->res, i, 0), rel) == 0 &&
		    (col == NULL || strcmp(PQgetvalue(sh->res, i, 1), col) == 0))
			return true;
	}
	return false;
}

/*
 * Builds the listing query for the tables as they are. Parameters: $1 job
 * name or NULL; $2, $3, $4 schema (or NULL), table, column of a target, or
 * NULL. Returns a malloc'd string, or NULL (out of memory).
 */
static char *build_query(const struct shape *sh, const char *q)
{
	bool leases = has(sh, "leases", "job");
	bool view = has(sh, "job_progress", "job");
	char *pass_rows = NULL, *done = NULL, *left = NULL, *rate = NULL;
	char *updated = NULL, *sql = NULL;
	int bad = 0;

	/* Rows filled by the open pass's leases. */
	if (leases && has(sh, "leases", "rows_done"))
		bad |= asprintf(&pass_rows, "COALESCE((SELECT sum(l.rows_done)"
				" FROM %s.leases l WHERE l.job = j.job), 0)", q) < 0;
	else
		bad |= (pass_rows = strdup("0")) == NULL;
	if (bad)
		goto out;

	bad |= asprintf(&done, view && has(sh, "job_progress", "rows_done") ?
			"COALESCE(v.rows_done, j.rows_done + %s)" :
			"j.rows_done + %s", pass_rows) < 0;
	if (has(sh, "jobs", "rows_estimate"))
		bad |= asprintf(&left, "GREATEST(j.rows_estimate - %s, 0)",
				pass_rows) < 0;
	else
		bad |= (left = strdup("NULL")) == NULL;
	if (bad)
		goto out;
	if (view && has(sh, "job_progress", "rows_left")) {
		char *l2 = NULL;

		bad |= asprintf(&l2, "COALESCE(v.rows_left, %s)", left) < 0;
		free(left);
		left = l2;
	}
	/* The view's rate (progress.h) where the view has one; only tables
	 * without it, of an older version or made by hand, get the same
	 * figure summed here from the leases. */
	if (view && has(sh, "job_progress", "rate"))
		bad |= (rate = strdup("v.rate")) == NULL;
	else if (leases && has(sh, "leases", "rate") &&
		 has(sh, "leases", "updated_at"))
		bad |= asprintf(&rate, "COALESCE((SELECT sum(l.rate) FROM %s.leases l"
				" WHERE l.job = j.job AND l.updated_at >"
				" now() - interval '30 seconds'), 0)", q) < 0;
	else
		bad |= (rate = strdup("NULL")) == NULL;
	if (bad || left == NULL)
		goto out;
	/* Batches write the leases, not the job row. */
	if (leases && has(sh, "leases", "updated_at"))
		bad |= asprintf(&updated, "GREATEST(j.updated_at, (SELECT"
				" max(l.updated_at) FROM %s.leases l"
				" WHERE l.job = j.job))", q) < 0;
	else
		bad |= (updated = strdup("j.updated_at")) == NULL;
	if (bad || rate == NULL)
		goto out;

	if (asprintf(&sql,
		"SELECT j.job, j.schema_name, j.table_name, j.column_name,"
		" j.state, (%s)::bigint,"
		" (CASE WHEN j.state = $5 THEN 0 ELSE %s END)::float8,"
		" (CASE WHEN j.state = $6 THEN %s END)::float8,"
		" EXTRACT(epoch FROM now() - %s)::float8,"
		" to_char((%s) AT TIME ZONE 'UTC',"
		"         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
		" FROM %s.jobs j%s%s%s"
		" WHERE ($1::text IS NULL OR j.job = $1)"
		"   AND ($3::text IS NULL OR (j.table_name = $3 AND j.column_name = $4"
		"        AND ($2::text IS NULL OR j.schema_name = $2)))"
		" ORDER BY j.job",
		done, left, rate, updated, updated, q,
		view ? " LEFT JOIN " : "", view ? q : "",
		view ? ".job_progress v ON v.job = j.job" : "") < 0)
		sql = NULL;
out:
	free(pass_rows);
	free(done);
	free(left);
	free(rate);
	free(updated);
	return sql;
}

static void jobs_free(struct status_job *jobs, int n)
{
	if (jobs == NULL)
		return;
	for (int i = 0; i < n; i++) {
		free(jobs[i].job);
		free(jobs[i].schema);
		free(jobs[i].table);
		free(jobs[i].column);
		free(jobs[i].state);
		free(jobs[i].updated_at);
	}
	free(jobs);
}

static double num_or(const PGresult *res, int r, int c, double unknown)
{
	return PQgetisnull(res, r, c) ? unknown :
	       strtod(PQgetvalue(res, r, c), NULL);
}

/* ---- the command ------------------------------------------------------- */

/* The job asked for: by name, or else by the target (a job file's, or
 * --table and --column) when both are given; none: every job. */
struct selection {
	const char *job;
	const char *schema, *table, *column;
};

static struct selection selection_of(const struct config *cfg)
{
	struct selection sel = { cfg->job, NULL, NULL, NULL };

	if (cfg->job == NULL && cfg->table != NULL && cfg->column != NULL) {
		sel.schema = cfg->schema;
		sel.table = cfg->table;
		sel.column = cfg->column;
	}
	return sel;
}

/* A job asked for by name (or by a job file's target) is not there. */
static void no_such_job(const struct selection *sel, const char *db)
{
	char a[CELL], b[CELL];

	if (sel->job != NULL)
		log_error("no job \"%s\" recorded in database \"%s\"",
			  db_display(sel->job, a, sizeof a), db);
	else
		log_error("no job recorded for column \"%s\" of table \"%s\" "
			  "in database \"%s\"",
			  db_display(sel->column, a, sizeof a),
			  db_display(sel->table, b, sizeof b), db);
}

int status_run(const struct config *cfg, bool json)
{
	static const char shape_sql[] =
		"SELECT c.relname, a.attname FROM pg_namespace n"
		" JOIN pg_class c ON c.relnamespace = n.oid"
		" JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
		"  AND NOT a.attisdropped"
		" WHERE n.nspname = $1"
		"   AND c.relname IN ('jobs', 'leases', 'job_progress')";
	static const char *const required[] = {
		"job", "schema_name", "table_name", "column_name", "state",
		"rows_done", "updated_at",
	};
	const struct selection sel = selection_of(cfg);
	struct shape sh = { NULL };
	struct status_job *jobs = NULL;
	char err[LINE], db[CELL], shown[CELL];
	const char *vals[6];
	char *q = NULL, *sql = NULL;
	PGconn *conn = NULL;
	PGresult *res = NULL;
	int rc = NB_EXIT_FAILURE, n = 0;

	if (!check_config_dsn(cfg->dsn, err, sizeof err)) {
		log_error("%s", err);
		return NB_EXIT_CONFIG;
	}

	conn = db_connect(cfg->dsn, err, sizeof err);
	if (conn == NULL) {
		log_error("%s", err);
		goto out;
	}
	db_display(PQdb(conn), db, sizeof db);
	db_display(cfg->progress_schema, shown, sizeof shown);

	vals[0] = cfg->progress_schema;
	sh.res = db_exec(conn, shape_sql, 1, vals, false);
	if (!db_ok(sh.res)) {
		log_error("reading the catalog: %s",
			  pgconn_error(conn, sh.res, err, sizeof err));
		goto out;
	}
	if (!has(&sh, "jobs", NULL) &&
	    (sel.job != NULL || sel.table != NULL)) {
		no_such_job(&sel, db);
		goto out;
	}
	if (!has(&sh, "jobs", NULL)) {
		if (json)
			fputs("[]\n", stdout);
		else
			printf("no jobs recorded in database \"%s\" (no table "
			       "\"%s\".jobs)\n", db, shown);
		rc = fflush(stdout) == 0 ? NB_EXIT_OK : NB_EXIT_FAILURE;
		goto out;
	}
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		if (!has(&sh, "jobs", required[i])) {
			log_error("\"%s\".jobs has no column \"%s\": not a "
				  "progress table of nanoid-backfill", shown,
				  required[i]);
			goto out;
		}
	}

	q = pgconn_quote(conn, cfg->progress_schema);
	sql = q != NULL ? build_query(&sh, q) : NULL;
	if (sql == NULL) {
		log_error("out of memory");
		goto out;
	}
	vals[0] = sel.job;
	vals[1] = sel.schema;
	vals[2] = sel.table;
	vals[3] = sel.column;
	vals[4] = progress_job_state_name(JOB_DONE);
	vals[5] = progress_job_state_name(JOB_RUNNING);
	res = db_exec(conn, sql, 6, vals, false);
	if (!db_ok(res)) {
		log_error("reading \"%s\".jobs: %s", shown,
			  pgconn_error(conn, res, err, sizeof err));
		goto out;
	}
	n = PQntuples(res);
	jobs = calloc((size_t)n + 1, sizeof *jobs);
	if (jobs == NULL) {
		log_error("out of memory");
		goto out;
	}
	for (int r = 0; r < n; r++) {
		struct status_job *j = &jobs[r];

		j->job = strdup(PQgetvalue(res, r, 0));
		j->schema = strdup(PQgetvalue(res, r, 1));
		j->table = strdup(PQgetvalue(res, r, 2));
		j->column = strdup(PQgetvalue(res, r, 3));
		j->state = strdup(PQgetvalue(res, r, 4));
		j->rows_done = strtoll(PQgetvalue(res, r, 5), NULL, 10);
		j->rows_left = num_or(res, r, 6, -1);
		j->rate = num_or(res, r, 7, -1);
		j->updated_ago = num_or(res, r, 8, -1);
		j->updated_at = strdup(PQgetvalue(res, r, 9));
		if (!j->job || !j->schema || !j->table || !j->column ||
		    !j->state || !j->updated_at) {
			log_error("out of memory");
			goto out;
		}
	}
	if (n == 0 && (sel.job != NULL || sel.table != NULL)) {
		no_such_job(&sel, db);
		goto out;
	}
	if (json)
		status_print_json(stdout, jobs, n);
	else if (n == 0)
		printf("no jobs recorded in database \"%s\"\n", db);
	else
		status_print_table(stdout, jobs, n);
	rc = fflush(stdout) == 0 ? NB_EXIT_OK : NB_EXIT_FAILURE;
out:
	jobs_free(jobs, n);
	PQclear(res);
	PQclear(sh.res);
	free(sql);
	free(q);
	PQfinish(conn);
	return rc;
}
