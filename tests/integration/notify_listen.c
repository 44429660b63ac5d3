/*
 * notify_listen.c - a stand-in for systemd's notification socket, for the
 * integration tests.
 *
 *   notify_listen SOCKET OUTFILE [TIMEOUT_SEC]
 *
 * Binds an AF_UNIX datagram socket at the path SOCKET (removing a stale
 * one first) and appends each datagram it receives to OUTFILE as one
 * line, newlines inside the datagram replaced by '|'
 * ("RELOADING=1|MONOTONIC_USEC=123"). Each line is one write(2) to a file
 * opened with O_APPEND, so a test reading OUTFILE never sees half a line.
 * Runs until killed, or for TIMEOUT_SEC seconds (default 600) so a test
 * that dies without killing it leaves nothing behind for long. Removes
 * the socket when the timeout ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa;
	char buf[65536];
	long timeout = 600;
	time_t end;
	int fd, out;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: %s SOCKET OUTFILE [TIMEOUT_SEC]\n",
			argv[0]);
		return 64;
	}
	if (argc == 4)
		timeout = strtol(argv[3], NULL, 10);
	if (strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr, "notify_listen: socket path too long\n");
		return 64;
	}
	out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0) {
		fprintf(stderr, "notify_listen: %s: %s\n", argv[2],
			strerror(errno));
		return 1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("notify_listen: socket");
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	unlink(argv[1]);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(stderr, "notify_listen: bind %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	/* The daemon may run as another user in a test; let it send. */
	chmod(argv[1], 0666);

	end = time(NULL) + timeout;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = (long)(end - time(NULL));
		ssize_t n;
		int r;

		if (left <= 0)
			break;
		r = poll(&p, 1, (int)(left > 1000 ? 1000000 : left * 1000));
		if (r < 0 && errno != EINTR) {
			perror("notify_listen: poll");
			return 1;
		}
		if (r <= 0)
			continue;
		n = recv(fd, buf, sizeof buf - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("notify_listen: recv");
			return 1;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n')
				buf[i] = '|';
		}
		buf[n] = '\n';
		if (write(out, buf, (size_t)n + 1) != n + 1) {
			perror("notify_listen: write");
			return 1;
		}
	}
	unlink(argv[1]);
	return 0;
}
