/*
 * test_notify.c - the sd_notify client against a real AF_UNIX datagram
 * socket, bound at a path in a temp dir and in the abstract namespace, as
 * systemd would bind it.
 */
#include "notify.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The listening side: what systemd would be. */
struct listener {
	int fd;
	char dir[64];
	char path[128];
};

static void listener_bind(struct listener *l, bool abstract)
{
	struct sockaddr_un sa;
	socklen_t len;
	int one = 1;

	memset(l, 0, sizeof *l);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l->fd, 0);
	/* systemd checks the sender's pid (NotifyAccess=main) this way. */
	ck_assert_int_eq(setsockopt(l->fd, SOL_SOCKET, SO_PASSCRED, &one,
				    sizeof one), 0);
	if (abstract) {
		snprintf(l->path, sizeof l->path, "@nb-test-notify-%ld-%ld",
			 (long)getpid(), (long)time(NULL));
		memcpy(sa.sun_path + 1, l->path + 1, strlen(l->path) - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				  strlen(l->path));
	} else {
		snprintf(l->dir, sizeof l->dir, "/tmp/nb-test-notify-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(l->dir));
		snprintf(l->path, sizeof l->path, "%s/notify", l->dir);
		memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
		len = (socklen_t)sizeof sa;
	}
	ck_assert_msg(bind(l->fd, (struct sockaddr *)&sa, len) == 0,
		      "bind %s: %s", l->path, strerror(errno));
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", l->path, 1), 0);
}

static void listener_close(struct listener *l)
{
	close(l->fd);
	if (l->dir[0] != '\0') {
		unlink(l->path);
		rmdir(l->dir);
	}
}

/*
 * Receives one datagram (waiting at most timeout_ms) into buf as a string;
 * returns its length, or -1 if none came. Checks the sender is this process.
 */
static int listener_recv(struct listener *l, char *buf, size_t len,
			 int timeout_ms)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
	};
	struct cmsghdr *c;
	struct ucred cred;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recvmsg(l->fd, &msg, 0);
	ck_assert_int_ge(n, 0);
	ck_assert_msg(!(msg.msg_flags & MSG_TRUNC), "datagram truncated");
	buf[n] = '\0';
	c = CMSG_FIRSTHDR(&msg);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->cmsg_type, SCM_CREDENTIALS);
	memcpy(&cred, CMSG_DATA(c), sizeof cred);
	ck_assert_int_eq(cred.pid, getpid());
	return (int)n;
}

static void expect(struct listener *l, const char *want)
{
	char buf[4096];

	ck_assert_msg(listener_recv(l, buf, sizeof buf, 2000) >= 0,
		      "no datagram, expected '%s'", want);
	ck_assert_str_eq(buf, want);
}

static void expect_nothing(struct listener *l)
{
	char buf[4096];

	ck_assert_msg(listener_recv(l, buf, sizeof buf, 100) < 0,
		      "unexpected datagram '%s'", buf);
}

static unsigned long long now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL +
	       (unsigned long long)ts.tv_nsec / 1000ULL;
}

/* Every message once, in order, with its exact text. */
static void check_messages(bool abstract)
{
	struct listener l;
	char buf[4096], *end;
	unsigned long long before, after, mono;

	listener_bind(&l, abstract);
	unsetenv("WATCHDOG_PID");
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "500000", 1), 0);
	ck_assert_int_eq(notify_init(), 1);

	ck_assert_int_eq(notify_ready(), 0);
	expect(&l, "READY=1");
	ck_assert_int_eq(notify_status("%d rows filled (%.1f%%), %s", 4200,
				       42.0, "1000 rows/s"), 0);
	expect(&l, "STATUS=4200 rows filled (42.0%), 1000 rows/s");
	ck_assert_int_eq(notify_watchdog(), 0);
	expect(&l, "WATCHDOG=1");
	ck_assert_double_eq(notify_watchdog_interval(), 0.25);

	before = now_usec();
	ck_assert_int_eq(notify_reloading(), 0);
	after = now_usec();
	ck_assert_int_ge(listener_recv(&l, buf, sizeof buf, 2000), 0);
	ck_assert_msg(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0,
		      "got '%s'", buf);
	mono = strtoull(buf + 27, &end, 10);
	ck_assert_msg(*end == '\0' && buf[27] >= '0' && buf[27] <= '9',
		      "MONOTONIC_USEC is not a number: '%s'", buf + 27);
	ck_assert_msg(mono >= before && mono <= after,
		      "MONOTONIC_USEC %llu not in [%llu, %llu]", mono, before,
		      after);
	ck_assert_int_eq(notify_ready(), 0);
	expect(&l, "READY=1");

	ck_assert_int_eq(notify_stopping(), 0);
	expect(&l, "STOPPING=1");
	expect_nothing(&l);

	notify_close();
	ck_assert_int_eq(notify_ready(), 0);    /* closed: a no-op */
	expect_nothing(&l);
	listener_close(&l);
}

START_TEST(test_path_socket)
{
	check_messages(false);
}
END_TEST

START_TEST(test_abstract_socket)
{
	check_messages(true);
}
END_TEST

START_TEST(test_unset_is_noop)
{
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "500000", 1), 0);
	ck_assert_int_eq(notify_init(), 0);
	ck_assert_int_eq(notify_ready(), 0);
	ck_assert_int_eq(notify_status("%s", "x"), 0);
	ck_assert_int_eq(notify_reloading(), 0);
	ck_assert_int_eq(notify_watchdog(), 0);
	ck_assert_int_eq(notify_stopping(), 0);
	/* No manager to ping: no watchdog either. */
	ck_assert_double_eq(notify_watchdog_interval(), 0.0);

	ck_assert_int_eq(setenv("NOTIFY_SOCKET", "", 1), 0);
	ck_assert_int_eq(notify_init(), 0);
	ck_assert_int_eq(notify_ready(), 0);
}
END_TEST

START_TEST(test_bad_address)
{
	char longname[200];

	ck_assert_int_eq(setenv("NOTIFY_SOCKET", "relative/notify", 1), 0);
	errno = 0;
	ck_assert_int_eq(notify_init(), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(notify_ready(), 0);    /* then a no-op */

	memset(longname, 'x', sizeof longname - 1);
	longname[0] = '/';
	longname[sizeof longname - 1] = '\0';
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", longname, 1), 0);
	ck_assert_int_eq(notify_init(), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	longname[0] = '@';
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", longname, 1), 0);
	ck_assert_int_eq(notify_init(), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

START_TEST(test_watchdog_pid)
{
	struct listener l;
	char pid[32];

	listener_bind(&l, false);
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "30000000", 1), 0);

	/* Our pid: enabled. */
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	ck_assert_int_eq(setenv("WATCHDOG_PID", pid, 1), 0);
	ck_assert_int_eq(notify_init(), 1);
	ck_assert_double_eq(notify_watchdog_interval(), 15.0);
	ck_assert_int_eq(notify_watchdog(), 0);
	expect(&l, "WATCHDOG=1");

	/* Another process's pid (inherited environment): disabled, while
	 * the other notifications still go out. */
	snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
	ck_assert_int_eq(setenv("WATCHDOG_PID", pid, 1), 0);
	ck_assert_int_eq(notify_init(), 1);
	ck_assert_double_eq(notify_watchdog_interval(), 0.0);
	ck_assert_int_eq(notify_watchdog(), 0);
	ck_assert_int_eq(notify_ready(), 0);
	expect(&l, "READY=1");          /* and no WATCHDOG=1 before it */

	/* Junk or zero: disabled. */
	ck_assert_int_eq(setenv("WATCHDOG_PID", "12x", 1), 0);
	ck_assert_int_eq(notify_init(), 1);
	ck_assert_double_eq(notify_watchdog_interval(), 0.0);
	unsetenv("WATCHDOG_PID");
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "0", 1), 0);
	ck_assert_int_eq(notify_init(), 1);
	ck_assert_double_eq(notify_watchdog_interval(), 0.0);
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "-5", 1), 0);
	ck_assert_int_eq(notify_init(), 1);
	ck_assert_double_eq(notify_watchdog_interval(), 0.0);
	unsetenv("WATCHDOG_USEC");
	ck_assert_int_eq(notify_init(), 1);
	ck_assert_double_eq(notify_watchdog_interval(), 0.0);
	ck_assert_int_eq(notify_watchdog(), 0);
	expect_nothing(&l);

	notify_close();
	listener_close(&l);
}
END_TEST

START_TEST(test_status_text)
{
	struct listener l;
	char buf[4096], big[3000];

	listener_bind(&l, false);
	ck_assert_int_eq(notify_init(), 1);

	/* A newline would start a new assignment: it becomes a blank. */
	ck_assert_int_eq(notify_status("line one\nREADY=1"), 0);
	expect(&l, "STATUS=line one READY=1");

	/* Long text is cut, not split or dropped. */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(notify_status("%s", big), 0);
	ck_assert_int_eq(listener_recv(&l, buf, sizeof buf, 2000),
			 (int)strlen("STATUS=") + 1000);
	ck_assert(strncmp(buf, "STATUS=aaa", 10) == 0);

	notify_close();
	listener_close(&l);
}
END_TEST

START_TEST(test_manager_gone)
{
	struct listener l;

	listener_bind(&l, false);
	ck_assert_int_eq(notify_init(), 1);
	listener_close(&l);             /* unlinks the socket */
	/* An error return, not a SIGPIPE or a crash. */
	errno = 0;
	ck_assert_int_eq(notify_ready(), -1);
	ck_assert(errno == ENOENT || errno == ECONNREFUSED);
	ck_assert_int_eq(notify_status("x"), -1);
	notify_close();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_path_socket);
	tcase_add_test(tc, test_abstract_socket);
	tcase_add_test(tc, test_unset_is_noop);
	tcase_add_test(tc, test_bad_address);
	tcase_add_test(tc, test_watchdog_pid);
	tcase_add_test(tc, test_status_text);
	tcase_add_test(tc, test_manager_gone);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
