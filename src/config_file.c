/*
 * config_file.c - the job-file reader: flat "name = value" lines, read by
 * inih through a line reader of our own, each key set through its row of
 * the key table.
 */
#include "config_key.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "log.h"

struct file_state {
	struct config *c;
	FILE *f;
	char *buf;              /* getline() buffer */
	size_t cap;
	int lineno;             /* of the line last handed to inih */
	int read_errno;         /* nonzero: reading failed */
	int *seen;              /* per row: line where the key was set, or 0 */
	int err_line;           /* first error found by us, or 0 */
	char err_msg[CONFIG_ERR_LEN];
};

__attribute__((format(printf, 2, 3)))
static void file_error(struct file_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->err_line != 0)
		return;         /* report the first error only */
	st->err_line = st->lineno;
	va_start(ap, fmt);
	vsnprintf(st->err_msg, sizeof(st->err_msg), fmt, ap);
	va_end(ap);
}

/*
 * inih's line reader (fgets-like). Reading lines ourselves keeps our line
 * count equal to inih's, so handler errors carry the right line number,
 * and lets us refuse what inih would accept quietly:
 *  - "[section]" headers: a job file is flat;
 *  - indented lines: inih would take them as the continuation of the
 *    previous value ("multi-line"), so "  batch-size = 5" after
 *    "table = t" would set table to "batch-size = 5". We drop the
 *    indentation instead; a value never spans lines;
 *  - lines longer than inih's buffer, which it would split silently.
 * A refused line is handed to inih as a blank line.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct file_state *st = stream;
	ssize_t n;
	const char *p;
	size_t len;

	errno = 0;
	n = getline(&st->buf, &st->cap, st->f);
	if (n < 0) {
		if (ferror(st->f))
			st->read_errno = errno != 0 ? errno : EIO;
		return NULL;
	}
	st->lineno++;
	p = st->buf;
	len = (size_t)n;
	if (st->lineno == 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
		p += 3;
		len -= 3;
	}
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	if (num < 2)
		return NULL;
	if (memchr(p, '\0', len) != NULL) {
		file_error(st, "NUL byte in line");
		p = "\n";
		len = 1;
	} else if (*p == '[') {
		file_error(st, "sections are not used in a job file; "
			   "write every key at the top level");
		p = "\n";
		len = 1;
	} else if (len + 1 > (size_t)num) {
		file_error(st, "line is longer than %d characters", num - 2);
		p = "\n";
		len = 1;
	}
	memcpy(str, p, len);
	str[len] = '\0';
	return str;
}

static int on_file_key(void *user, const char *section, const char *name,
		       const char *value)
{
	struct file_state *st = user;
	const struct key_def *k;
	char why[CONFIG_ERR_LEN];
	size_t i;

	if (section[0] != '\0') {       /* read_line() drops headers */
		file_error(st, "'%s' is inside section [%s]", name, section);
		return 0;
	}
	k = config_find_key(name);
	if (k == NULL) {
		const char *hint = config_removed_key(name, strlen(name));

		file_error(st, "unknown key '%s'%s%s", name, hint ? ": " : "",
			   hint ? hint : "");
		return 0;
	}
	if (k->flags & KEY_CLI_ONLY) {
		file_error(st, "'%s' can only be given on the command line",
			   name);
		return 0;
	}
	/* A key set twice is almost always an edit gone wrong: the first
	 * line would be silently dead. */
	i = (size_t)(k - config_keys);
	if (st->seen[i] != 0) {
		file_error(st, "'%s' is already set on line %d", name,
			   st->seen[i]);
		return 0;
	}
	st->seen[i] = st->lineno;
	if (config_set_value(st->c, k, value, why, sizeof(why)) < 0) {
		file_error(st, "%s: %s", name, why);
		return 0;
	}
	return 1;
}

/*
 * Does a conninfo string or URI carry a password? The keyword (or a URI's
 * "?password=" parameter), or a URI's userinfo with a ':' ("user:secret@").
 * Only ever answers yes or no: the value is never copied or printed.
 */
static bool dsn_has_password(const char *dsn)
{
	const char *p, *end;

	if (dsn == NULL)
		return false;
	if (strstr(dsn, "password") != NULL)
		return true;
	if (strncmp(dsn, "postgresql://", 13) == 0)
		p = dsn + 13;
	else if (strncmp(dsn, "postgres://", 11) == 0)
		p = dsn + 11;
	else
		return false;
	end = p + strcspn(p, "/?");     /* the authority */
	for (const char *at = p; at < end; at++) {
		if (*at == '@')
			return memchr(p, ':', (size_t)(at - p)) != NULL;
	}
	return false;
}

enum config_result config_load_file(struct config *c, const char *path,
				    char *err, size_t errlen)
{
	struct file_state st;
	int rc, line;
	const char *msg;

	memset(&st, 0, sizeof(st));
	st.c = c;
	st.seen = calloc(config_nkeys, sizeof(*st.seen));
	if (st.seen == NULL) {
		config_seterr(err, errlen, "cannot read job file '%s': %s", path,
			      strerror(ENOMEM));
		return CONFIG_INVALID;
	}
	st.f = fopen(path, "r");
	if (st.f == NULL) {
		config_seterr(err, errlen, "cannot read job file '%s': %s", path,
			      strerror(errno));
		free(st.seen);
		return CONFIG_INVALID;
	}
	rc = ini_parse_stream(read_line, &st, on_file_key, &st);
	free(st.buf);
	{
		/* A password in a file others can read is a leak waiting to
		 * happen; say so, but do not refuse (the file is the admin's). */
		const struct key_def *dk = config_find_key("dsn");
		struct stat sb;

		if (dk != NULL && st.seen[dk - config_keys] != 0 &&
		    dsn_has_password(c->dsn) && fstat(fileno(st.f), &sb) == 0 &&
		    (sb.st_mode & 077) != 0)
			log_warn("job file %s is readable by group or others and "
				 "holds a password; chmod 600 it", path);
	}
	fclose(st.f);
	free(st.seen);

	if (st.read_errno != 0) {
		config_seterr(err, errlen, "cannot read job file '%s': %s", path,
			      strerror(st.read_errno));
		return CONFIG_INVALID;
	}
	if (rc < 0) {
		config_seterr(err, errlen, "cannot read job file '%s': %s", path,
			      strerror(ENOMEM));
		return CONFIG_INVALID;
	}
	/* inih reports the first bad line: a handler failure (our message is
	 * recorded for that line) or a line it could not split itself. */
	line = st.err_line;
	msg = st.err_msg;
	if (rc > 0 && (line == 0 || rc < line)) {
		line = rc;
		msg = "expected 'name = value'";
	}
	if (line != 0) {
		config_seterr(err, errlen, "%s:%d: %s", path, line, msg);
		return CONFIG_INVALID;
	}
	return CONFIG_OK;
}
