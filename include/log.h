/*
 * log.h - leveled logging to stderr.
 *
 * What each level means for the process:
 *   error  the process cannot go on as asked; it is about to exit non-zero.
 *   warn   something is wrong but the process goes on (a retry, a reload
 *          that was refused, a risky setting).
 *   info   the lifecycle an operator wants in the journal: start, resume,
 *          progress lines, pass finished, stop.
 *   debug  per-batch detail, for developers; noisy.
 *
 * Lines never contain a password: callers log connection targets through
 * PQhost()/PQdb(), never the conninfo string.
 */
#ifndef NB_LOG_H
#define NB_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Sets the most verbose level that is printed (default LOG_INFO). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "error", "warn", "info" or "debug"; returns 0, or -1 if unknown. */
int log_level_parse(const char *name, enum log_level *out);

/*
 * Prints one line at the given level. On a terminal or a plain pipe the
 * line is "nanoid-backfill: <level>: <message>"; when stderr is the
 * systemd journal (JOURNAL_STREAM matches stderr) it is prefixed with the
 * syslog priority "<N>" instead, so journald records the level.
 */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The status line: one line at the foot of a terminal, redrawn in place
 * (the progress bar, report.c). While it is shown, every log line clears
 * it, is printed, and draws it again, all in one write, so that neither
 * is garbled and log lines stay whole.
 *
 * log_status() shows line (printable, shorter than the terminal is wide,
 * at most LOG_STATUS_MAX - 1 bytes; longer is cut) in place of the last
 * one: "\r", the line, then "erase to the end of the line". The same line
 * again writes nothing. log_status_end() leaves the line shown on the
 * screen, ends it with a newline, so the cursor is on a fresh line, and
 * forgets it; log lines after it print as usual. Without a status line it
 * does nothing.
 */
#define LOG_STATUS_MAX 1024
void log_status(const char *line);
void log_status_end(void);

/* Whether stderr is a terminal, and not the systemd journal. */
bool log_stderr_is_terminal(void);

/* stderr's width in columns: the terminal's (TIOCGWINSZ), else $COLUMNS,
 * else 80. Asked again at every call: terminals are resized. */
int log_stderr_columns(void);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
