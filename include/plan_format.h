/*
 * plan_format.h - how `plan --format` lays out each step for a migration
 * tool: the file names, the version numbering, how up and down pair up,
 * and the tool's marker for a step that must run outside a transaction
 * (CREATE and DROP INDEX CONCURRENTLY). One table holds every format;
 * plan.c builds each step's up and down text once (plan_text.c) and asks
 * the format to name and wrap it.
 *
 *   format          files of one step                        outside a transaction
 *   sqlx            V_desc.up.sql, V_desc.down.sql           first line "-- no-transaction"
 *   golang-migrate  V_desc.up.sql, V_desc.down.sql           nothing: one file, one query string
 *   goose           V_desc.sql (+goose Up / +goose Down)     "-- +goose NO TRANSACTION"
 *   dbmate          V_desc.sql (migrate:up / migrate:down)   "transaction:false" on both
 *   sql-migrate     V_desc.sql (+migrate Up / +migrate Down) "notransaction" on both
 *   knex            V_desc.js (exports.up / exports.down)    exports.config = { transaction: false }
 *   flyway          VV__desc.sql, UV__desc.sql (undo)        V..sql.conf, U..sql.conf: executeInTransaction=false
 *   psql            NN_desc.sql, NN_desc.down.sql            nothing; the others run in BEGIN/COMMIT
 *
 * V is the step's UTC timestamp (YYYYMMDDHHMMSS); psql numbers its steps
 * 01, 02, ... after the highest number already in the directory.
 *
 * Tools that split a file into statements line by line (goose,
 * sql-migrate) get a statement block around every statement with a ';'
 * or "--" inside a quoted part (a DO block, a function body, an odd
 * name). Tools that read their own annotations from "--" lines (goose,
 * sql-migrate, dbmate) cannot take a name holding a line break followed
 * by "--"; knex's raw() cannot pass a backslash right before a '?'
 * (it reads '?' as a binding): those are refused (-2), never written.
 */
#ifndef NB_PLAN_FORMAT_H
#define NB_PLAN_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct plan_file;

/* The most files one step has in any format (flyway: V, U, two .conf). */
#define PLAN_FORMAT_MAX_FILES 4

/* What a format gets of one step. */
struct plan_format_step {
	const char *version;    /* plan_format_version()'s text */
	const char *desc;       /* snake_case, [a-z0-9_] */
	const char *up, *down;  /* the step's SQL and comments (plan_text.c) */
	bool outside_tx;        /* CONCURRENTLY: no transaction, both ways */
	int step, nsteps;
};

struct plan_format {
	const char *name;       /* the value of --format */
	const char *tool;       /* as the comments name it */
	bool sequence;          /* versions 01, 02, ...; else UTC timestamps */
	const char *prefix;     /* letters a version may follow ("VU": flyway) */
	const char *sep;        /* between version and description */
	/*
	 * How the step's comment says the tool runs it outside a
	 * transaction, completing "CREATE INDEX CONCURRENTLY cannot run in a
	 * transaction: ": no_tx[0] before "." (the unique index steps),
	 * no_tx[1] before " since PostgreSQL runs" (the --null-index steps,
	 * saying too that it is the only statement). unit: what holds the
	 * statement ("file", "section").
	 */
	const char *no_tx[2];
	const char *unit;
	const char *rollback;   /* where the rollback is: plan's last log line */
	/* Appends the step's files to out (at most PLAN_FORMAT_MAX_FILES),
	 * counting them in *n. Returns 0; -1 out of memory; -2 with one line
	 * in err when the text cannot be carried (see above). */
	int (*write)(const struct plan_format *f, const struct plan_format_step *s,
		     struct plan_file *out, int *n, char *err, size_t errlen);
	/* The section annotations (goose, dbmate, sql-migrate); NULL: none. */
	const char *file_no_tx;         /* a line of its own for the whole file */
	const char *up_mark, *down_mark;
	const char *no_tx_option;       /* appended to both marks */
	const char *block_begin, *block_end;
	bool blank_bare;                /* a bare "--" comment line left empty */
};

/* The format called name, or NULL. */
const struct plan_format *plan_format_find(const char *name);

/* Every format's name, ", "-separated, for error messages and --help. */
const char *plan_format_names(void);

/*
 * The version of the step numbered v: a UTC timestamp of v (seconds) as
 * YYYYMMDDHHMMSS, or with f->sequence v itself, at least two digits.
 * Returns 0, -1 if v cannot be written.
 */
int plan_format_version(const struct plan_format *f, time_t v, char *buf,
			size_t len);

/*
 * Where a file name of f has its version and its description: name is
 * [one of f->prefix's letters] digits f->sep description, ending in .sql,
 * .up.sql, .down.sql, .sql.conf or .js. Returns the version's length (its
 * digits start at *digits) and sets *desc, *desc_len; 0 if name is not a
 * migration of f.
 */
size_t plan_format_parse(const struct plan_format *f, const char *name,
			 const char **digits, const char **desc,
			 size_t *desc_len);

/* One statement of SQL text, as plan_sql_next() finds it. */
struct plan_sql_stmt {
	size_t line;            /* where the line of its first character starts */
	size_t start;           /* its first character */
	size_t end;             /* after its ';' and the rest of that line */
	bool block;             /* a ';' or "--" inside a quoted part: a tool
	                         * splitting lines at ';' would cut it */
	bool dashed_line;       /* a line inside a quoted part starts with "--" */
};

/*
 * The next statement of text at or after *pos, skipping comments, quoted
 * names, strings and dollar quotes as PostgreSQL's lexer does (nested
 * block comments, E'' escapes, $tag$). Moves *pos past it. Returns false
 * when none is left.
 */
bool plan_sql_next(const char *text, size_t *pos, struct plan_sql_stmt *st);

#endif
