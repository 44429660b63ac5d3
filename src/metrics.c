/*
 * metrics.c - Prometheus text exposition format (version 0.0.4), written
 * atomically for node_exporter's textfile collector.
 */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX "nanoid_backfill_"

const char *const metrics_state_names[METRICS_NSTATES] = {
	[METRICS_STARTING] = "starting",
	[METRICS_RUNNING] = "running",
	[METRICS_IDLE] = "idle",
	[METRICS_THROTTLED] = "throttled",
	[METRICS_STOPPING] = "stopping",
	[METRICS_DONE] = "done",
	[METRICS_STOPPED] = "stopped",
};

const char *metrics_state_name(enum metrics_state s)
{
	return (unsigned)s < METRICS_NSTATES ? metrics_state_names[s] :
	       metrics_state_names[METRICS_STARTING];
}

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof *m);
	m->up = true;
	m->state = metrics_state_names[METRICS_STARTING];
	m->rows_per_second = -1;
	m->rows_left = -1;
	m->replica_lag_bytes = -1;
	m->pace_rows_per_second = -1;
}

int metrics_add_throttled(struct metrics *m, const char *reason,
			  double seconds)
{
	int i;

	for (i = 0; i < m->nthrottled; i++) {
		if (strcmp(m->throttled[i].reason, reason) == 0) {
			m->throttled[i].seconds += seconds;
			return 0;
		}
	}
	if (m->nthrottled < METRICS_MAX_REASONS - 1) {
		m->throttled[m->nthrottled].reason = reason;
		m->throttled[m->nthrottled].seconds = seconds;
		m->nthrottled++;
		return 0;
	}
	/* The last slot is kept for "other". */
	for (i = 0; i < m->nthrottled; i++) {
		if (strcmp(m->throttled[i].reason, "other") == 0) {
			m->throttled[i].seconds += seconds;
			return -1;
		}
	}
	m->throttled[m->nthrottled].reason = "other";
	m->throttled[m->nthrottled].seconds = seconds;
	m->nthrottled++;
	return -1;
}

/* A label value between double quotes: \ " and newline escaped, as the
 * format requires; every other byte (UTF-8 included) as it is. */
static void put_label_value(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\':
			fputs("\\\\", f);
			break;
		case '"':
			fputs("\\\"", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* A float value as Prometheus parses it (Go's ParseFloat). */
static void put_value(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else
		fprintf(f, "%.15g", v);
}

static void put_header(FILE *f, const char *name, const char *type,
		       const char *help)
{
	fprintf(f, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", name,
		help, name, type);
}

/*
 * One sample: name{backfill_job="job"[,extra="value"]} v. job NULL and
 * extra NULL leave their label out.
 */
static void put_sample(FILE *f, const char *name, const char *job,
		       const char *extra, const char *extra_value, double v)
{
	bool any = false;

	fprintf(f, PREFIX "%s", name);
	if (job != NULL) {
		fputs("{backfill_job=\"", f);
		put_label_value(f, job);
		fputc('"', f);
		any = true;
	}
	if (extra != NULL) {
		fprintf(f, "%s%s=\"", any ? "," : "{", extra);
		put_label_value(f, extra_value);
		fputc('"', f);
		any = true;
	}
	fputs(any ? "} " : " ", f);
	put_value(f, v);
	fputc('\n', f);
}

char *metrics_format(const struct metrics *m, const char *job, size_t *len)
{
	const char *state = m->state != NULL ? m->state :
			    metrics_state_names[METRICS_STARTING];
	bool known = false;
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	size_t i;

	f = open_memstream(&buf, &size);
	if (f == NULL)
		return NULL;

	put_header(f, "up", "gauge",
		   "1 while the backfill daemon runs, 0 once it has exited.");
	put_sample(f, "up", job, NULL, NULL, m->up ? 1 : 0);

	put_header(f, "state", "gauge",
		   "1 for the job's current state, 0 for the others.");
	for (i = 0; i < METRICS_NSTATES; i++) {
		known |= strcmp(metrics_state_names[i], state) == 0;
		put_sample(f, "state", job, "state", metrics_state_names[i],
			   strcmp(metrics_state_names[i], state) == 0 ? 1 : 0);
	}
	if (!known)
		put_sample(f, "state", job, "state", state, 1);

	put_header(f, "rows_filled_total", "counter",
		   "Rows filled by this process.");
	put_sample(f, "rows_filled_total", job, NULL, NULL,
		   (double)m->rows_filled);
	put_header(f, "batches_total", "counter",
		   "Batches committed by this process.");
	put_sample(f, "batches_total", job, NULL, NULL, (double)m->batches);
	put_header(f, "retries_total", "counter",
		   "Batches retried after a transient error.");
	put_sample(f, "retries_total", job, NULL, NULL, (double)m->retries);

	put_header(f, "throttled_seconds_total", "counter",
		   "Seconds spent paused by throttling, by reason.");
	for (i = 0; i < (size_t)m->nthrottled && i < METRICS_MAX_REASONS; i++)
		put_sample(f, "throttled_seconds_total", job, "reason",
			   m->throttled[i].reason, m->throttled[i].seconds);

	put_header(f, "rows_per_second", "gauge",
		   "Current fill rate in rows per second.");
	if (m->rows_per_second >= 0)
		put_sample(f, "rows_per_second", job, NULL, NULL,
			   m->rows_per_second);
	put_header(f, "rows_left", "gauge",
		   "Estimated rows whose column is still NULL.");
	if (m->rows_left >= 0)
		put_sample(f, "rows_left", job, NULL, NULL, m->rows_left);
	put_header(f, "replica_lag_bytes", "gauge",
		   "Replica lag last measured, in bytes of WAL.");
	if (m->replica_lag_bytes >= 0)
		put_sample(f, "replica_lag_bytes", job, NULL, NULL,
			   m->replica_lag_bytes);
	put_header(f, "pace_rows_per_second", "gauge",
		   "The rate the pace allows now, in rows per second.");
	if (m->pace_rows_per_second >= 0)
		put_sample(f, "pace_rows_per_second", job, NULL, NULL,
			   m->pace_rows_per_second);

	if (ferror(f)) {
		fclose(f);
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = size;
	return buf;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int metrics_write_file(const char *path, const struct metrics *m,
		       const char *job)
{
	char *text, *tmp = NULL;
	size_t len;
	int fd = -1, saved;

	text = metrics_format(m, job, &len);
	if (text == NULL)
		return -1;
	/* Same directory as path: rename() is only atomic within one
	 * filesystem. The pid keeps two processes from sharing a temp. */
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp = NULL;
		errno = ENOMEM;
		goto fail;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		goto fail;
	if (write_all(fd, text, len) < 0 || fsync(fd) < 0)
		goto fail_unlink;
	if (close(fd) < 0) {
		fd = -1;
		goto fail_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail_unlink;
	free(tmp);
	free(text);
	return 0;

fail_unlink:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
fail:
	saved = errno;
	free(tmp);
	free(text);
	errno = saved;
	return -1;
}
