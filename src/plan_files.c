/*
 * plan_files.c - the migrations directory: the version a new plan may
 * start at (plan_first_version) and writing the files exclusively, all or
 * none (plan_write); see plan.h.
 */
#include "plan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plan_format.h"

/* One line into err (vsnprintf: truncating a long path is fine here). */
__attribute__((format(printf, 3, 4)))
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Parses a 14-digit YYYYMMDDHHMMSS version; -1 if it is no real time. */
static int parse_version(const char *digits, time_t *out)
{
	struct tm tm;
	char back[16];
	time_t t;

	memset(&tm, 0, sizeof tm);
	if (sscanf(digits, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(back, sizeof back, "%Y%m%d%H%M%S", &tm) != 14 ||
	    strncmp(back, digits, 14) != 0)
		return -1;
	*out = t;
	return 0;
}

/* Length of the version of a migration file name of f ("123_x.sql"), its
 * digits at *digits; 0 if the name is not one. */
static size_t version_len(const struct plan_format *f, const char *name,
			  const char **digits)
{
	const char *desc;
	size_t dlen;

	return plan_format_parse(f, name, digits, &desc, &dlen);
}

/* A format numbered in sequence: one after the highest number in d. */
static int next_in_sequence(DIR *d, const struct plan_format *f, time_t *first)
{
	struct dirent *e;
	const char *digits;

	*first = 1;
	while ((e = readdir(d)) != NULL) {
		size_t n = version_len(f, e->d_name, &digits);
		long long v;

		/* a timestamp is no step number of this plan's kind */
		if (n == 0 || n > 9)
			continue;
		v = strtoll(digits, NULL, 10);
		if (v >= *first)
			*first = (time_t)v + 1;
	}
	return 0;
}

int plan_first_version(const char *dir, const struct plan_format *f,
		       time_t now, time_t *first, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char now_v[16];
	struct tm tm;
	int rc;

	*first = f->sequence ? 1 : now;
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		errf(err, errlen, "--out: cannot read directory '%s': %s",
			 dir, strerror(errno));
		return -1;
	}
	if (f->sequence) {
		rc = next_in_sequence(d, f, first);
		closedir(d);
		return rc;
	}
	gmtime_r(&now, &tm);
	strftime(now_v, sizeof now_v, "%Y%m%d%H%M%S", &tm);
	while ((e = readdir(d)) != NULL) {
		const char *digits;
		size_t n = version_len(f, e->d_name, &digits);
		time_t t;

		if (n == 0)
			continue;
		if (n == 14 && parse_version(digits, &t) == 0) {
			if (t >= *first)
				*first = t + 1;
			continue;
		}
		/* Versions are any integer; ours must sort after it. */
		if (n > 14 || (n == 14 && strncmp(digits, now_v, 14) > 0)) {
			errf(err, errlen, "--out: '%s' in '%s' has version "
				 "%.*s, later than any timestamp a new step "
				 "could have", e->d_name, dir, (int)n, digits);
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

/* The description part of a migration file name of f: after the version
 * and the separator, before ".up.sql", ".down.sql", ".sql" or ".js". */
static size_t desc_of(const struct plan_format *f, const char *name,
		      const char **desc)
{
	const char *digits;
	size_t len;

	if (plan_format_parse(f, name, &digits, desc, &len) == 0)
		return 0;
	return len;
}

static int already_planned(const struct plan *p, const char *dir, char *err,
			   size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		const char *have, *want;
		size_t nh, nw;

		nh = desc_of(p->format, e->d_name, &have);
		if (nh == 0)
			continue;
		for (int i = 0; i < p->nfiles; i++) {
			nw = desc_of(p->format, p->files[i].name, &want);
			if (nw == nh && strncmp(have, want, nh) == 0) {
				errf(err, errlen, "--out: '%s' already has "
					 "step '%.*s' (%s); remove the earlier "
					 "plan or choose another directory",
					 dir, (int)nw, want, e->d_name);
				closedir(d);
				return -1;
			}
		}
	}
	closedir(d);
	return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int plan_write(const struct plan *p, const char *dir, int *config_error,
	       char *err, size_t errlen)
{
	struct stat st;
	char path[4096];
	int written = 0, fd = -1;

	*config_error = 1;
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || mkdir(dir, 0777) < 0) {
			errf(err, errlen, "--out: cannot create directory "
				 "'%s': %s", dir, strerror(errno));
			return -1;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		errf(err, errlen, "--out: '%s' is not a directory", dir);
		return -1;
	}
	if (already_planned(p, dir, err, errlen) < 0)
		return -1;

	*config_error = 0;
	for (written = 0; written < p->nfiles; written++) {
		const struct plan_file *f = &p->files[written];

		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, f->name) >=
		    sizeof path) {
			errf(err, errlen, "--out: path too long: '%s'", dir);
			*config_error = 1;
			goto undo;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0) {
			errf(err, errlen, "cannot create '%s': %s", path,
				 strerror(errno));
			goto undo;
		}
		if (write_all(fd, f->text, strlen(f->text)) < 0 || fsync(fd) < 0) {
			errf(err, errlen, "cannot write '%s': %s", path,
				 strerror(errno));
			close(fd);
			unlink(path);
			goto undo;
		}
		if (close(fd) < 0) {
			errf(err, errlen, "cannot write '%s': %s", path,
				 strerror(errno));
			unlink(path);
			goto undo;
		}
	}
	return 0;
undo:
	while (written-- > 0) {
		snprintf(path, sizeof path, "%s/%s", dir, p->files[written].name);
		unlink(path);
	}
	return -1;
}
