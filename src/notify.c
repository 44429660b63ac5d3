/*
 * notify.c - sd_notify(3) spoken directly: one datagram per notification
 * to the AF_UNIX socket named by $NOTIFY_SOCKET.
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STATUS_MAX 1000

static int sock_fd = -1;
static struct sockaddr_un addr;
static socklen_t addr_len;
static unsigned long long watchdog_usec;    /* 0: watchdog not enabled */

/* Parses a whole unsigned decimal number; -1 if s is anything else. */
static int parse_ull(const char *s, unsigned long long *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return 0;
}

void notify_close(void)
{
	if (sock_fd >= 0)
		close(sock_fd);
	sock_fd = -1;
	addr_len = 0;
	watchdog_usec = 0;
}

/* Fills addr/addr_len from $NOTIFY_SOCKET's value; -1 (EINVAL) if unusable. */
static int set_address(const char *name)
{
	size_t len = strlen(name);

	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	if (name[0] == '@') {
		/* Abstract namespace: a leading NUL, then the name, and the
		 * length says where it ends (no terminating NUL). */
		if (len > sizeof addr.sun_path) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(addr.sun_path + 1, name + 1, len - 1);
		addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
		return 0;
	}
	if (name[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	if (len >= sizeof addr.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(addr.sun_path, name, len + 1);
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 0;
}

int notify_init(void)
{
	const char *name = getenv("NOTIFY_SOCKET");
	const char *pid_s = getenv("WATCHDOG_PID");
	unsigned long long usec = 0, pid;

	notify_close();
	if (name == NULL || name[0] == '\0')
		return 0;
	if (set_address(name) < 0) {
		addr_len = 0;
		return -1;
	}
	sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sock_fd < 0) {
		addr_len = 0;
		return -1;
	}

	/* A WATCHDOG_PID for another process (we inherited our parent's
	 * environment) means the watchdog is not ours to feed. */
	if (parse_ull(getenv("WATCHDOG_USEC"), &usec) == 0 && usec > 0 &&
	    (pid_s == NULL ||
	     (parse_ull(pid_s, &pid) == 0 && pid == (unsigned long long)getpid())))
		watchdog_usec = usec;
	return 1;
}

/* Sends msg as one datagram; 0 if sent or notifications are off. */
static int send_text(const char *msg, size_t len)
{
	ssize_t n;

	if (sock_fd < 0)
		return 0;
	n = sendto(sock_fd, msg, len, MSG_NOSIGNAL,
		   (const struct sockaddr *)&addr, addr_len);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int notify_ready(void)
{
	return send_text("READY=1", 7);
}

int notify_stopping(void)
{
	return send_text("STOPPING=1", 10);
}

int notify_status(const char *fmt, ...)
{
	char buf[sizeof "STATUS=" + STATUS_MAX];
	va_list ap;
	int n;

	if (sock_fd < 0)
		return 0;
	memcpy(buf, "STATUS=", 7);
	va_start(ap, fmt);
	n = vsnprintf(buf + 7, sizeof buf - 7, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	for (char *p = buf + 7; *p != '\0'; p++) {
		if (*p == '\n')
			*p = ' ';
	}
	return send_text(buf, strlen(buf));
}

int notify_reloading(void)
{
	struct timespec ts;
	char buf[64];
	int n;

	if (sock_fd < 0)
		return 0;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return -1;
	n = snprintf(buf, sizeof buf, "RELOADING=1\nMONOTONIC_USEC=%llu",
		     (unsigned long long)ts.tv_sec * 1000000ULL +
		     (unsigned long long)ts.tv_nsec / 1000ULL);
	return send_text(buf, (size_t)n);
}

int notify_watchdog(void)
{
	if (watchdog_usec == 0)
		return 0;
	return send_text("WATCHDOG=1", 10);
}

double notify_watchdog_interval(void)
{
	return (double)watchdog_usec / 2e6;
}
