/*
 * log.c - leveled logging to stderr, one write per line.
 *
 * Each line is built whole in a buffer and handed to stdio in one call:
 * stderr is unbuffered, so that is one write(2), and lines from one
 * process never interleave with each other. A status line (log_status)
 * goes into the same write: cleared before the line, drawn again after.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

/* Back to the line's start, and erase to its end (ECMA-48 EL). */
#define STATUS_CLEAR "\r\033[K"

static enum log_level current_level = LOG_INFO;

/* -1: not detected yet; 0: plain stderr; 1: stderr is the journal. */
static int journal_stream = -1;

/* The status line on the screen now; shown is false when there is none. */
static char status_line[LOG_STATUS_MAX];
static bool status_shown;

static const struct {
	const char *name;
	int syslog_priority;    /* sd-daemon(3) "<N>" prefix */
} levels[] = {
	[LOG_ERROR] = { "error", 3 },
	[LOG_WARN]  = { "warn",  4 },
	[LOG_INFO]  = { "info",  6 },
	[LOG_DEBUG] = { "debug", 7 },
};

void log_set_level(enum log_level level)
{
	if (level >= LOG_ERROR && level <= LOG_DEBUG)
		current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

int log_level_parse(const char *name, enum log_level *out)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(name, levels[i].name) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Parses one unsigned decimal number ending at stop; -1 if malformed. */
static int parse_u64(const char *s, char stop, const char **end,
		     unsigned long long *out)
{
	char *e;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &e, 10);
	if (errno != 0 || *e != stop)
		return -1;
	*end = e;
	return 0;
}

/*
 * systemd sets JOURNAL_STREAM=DEV:INO for a service whose stdout/stderr is
 * connected to the journal. It is inherited by children whose stderr may
 * point elsewhere, so it only counts if it names the file stderr is now.
 */
static int detect_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	const char *p;
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || *env == '\0')
		return 0;
	if (parse_u64(env, ':', &p, &dev) < 0 ||
	    parse_u64(p + 1, '\0', &p, &ino) < 0)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t len, room, i;
	int n;
	va_list ap;
	int saved_errno = errno;    /* callers may log, then look at errno */

	if (level < LOG_ERROR || level > LOG_DEBUG || level > current_level)
		return;
	if (journal_stream < 0)
		journal_stream = detect_journal();

	if (journal_stream)
		n = snprintf(line, sizeof(line), "<%d>",
			     levels[level].syslog_priority);
	else
		n = snprintf(line, sizeof(line), "nanoid-backfill: %s: ",
			     levels[level].name);
	len = n > 0 ? (size_t)n : 0;

	/* Leave room for the newline and the NUL. */
	room = sizeof(line) - len - 1;
	va_start(ap, fmt);
	n = vsnprintf(line + len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		len += (size_t)n < room ? (size_t)n : room - 1;

	/*
	 * One record per line: libpq messages end in "\n" and may carry a
	 * DETAIL line; a bare newline would split the record in the journal
	 * and lose the level of the second half.
	 */
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	for (i = 0; i < len; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	line[len++] = '\n';
	line[len] = '\0';

	if (status_shown) {
		char out[sizeof STATUS_CLEAR + LOG_LINE_MAX + LOG_STATUS_MAX];
		size_t clear = sizeof STATUS_CLEAR - 1, slen = strlen(status_line);

		memcpy(out, STATUS_CLEAR, clear);
		memcpy(out + clear, line, len);
		memcpy(out + clear + len, status_line, slen);
		fwrite(out, 1, clear + len + slen, stderr);
	} else {
		fwrite(line, 1, len, stderr);
	}
	errno = saved_errno;
}

void log_status(const char *line)
{
	char out[LOG_STATUS_MAX + 8];
	size_t n;

	if (status_shown && strncmp(line, status_line, sizeof status_line - 1) == 0)
		return;
	snprintf(status_line, sizeof status_line, "%s", line);
	n = strlen(status_line);
	/* "\r", the line, then erase what a longer last line left behind. */
	out[0] = '\r';
	memcpy(out + 1, status_line, n);
	memcpy(out + 1 + n, "\033[K", 3);
	fwrite(out, 1, n + 4, stderr);
	status_shown = true;
}

void log_status_end(void)
{
	if (!status_shown)
		return;
	fwrite("\n", 1, 1, stderr);
	status_shown = false;
	status_line[0] = '\0';
}

bool log_stderr_is_terminal(void)
{
	if (journal_stream < 0)
		journal_stream = detect_journal();
	return !journal_stream && isatty(STDERR_FILENO);
}

int log_stderr_columns(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	char *end;
	long n;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	/* Not a terminal, or a pseudo-terminal nobody gave a size. */
	if (env != NULL && *env != '\0') {
		errno = 0;
		n = strtol(env, &end, 10);
		if (errno == 0 && *end == '\0' && n > 0 && n <= 10000)
			return (int)n;
	}
	return 80;
}
