/*
 * notify.h - the systemd notification protocol (sd_notify), without
 * libsystemd.
 *
 * systemd passes a service of Type=notify the address of a datagram socket
 * in $NOTIFY_SOCKET: an absolute path, or "@name" for a name in the
 * abstract namespace. Each notification is one datagram of
 * newline-separated VAR=value assignments (sd_notify(3)). The protocol is
 * stable and documented for reimplementation, so we speak it directly.
 *
 * Every function is a no-op returning 0 when $NOTIFY_SOCKET was unset at
 * notify_init(): the daemon calls them unconditionally. The socket is
 * nonblocking: a notification the manager cannot take at once is dropped
 * (-1, errno EAGAIN) instead of stalling the event loop; the next STATUS
 * or WATCHDOG replaces it anyway. Sends use MSG_NOSIGNAL, so a manager that
 * went away is an error return, not a SIGPIPE.
 *
 * Not thread-safe (the daemon has one thread); not for signal handlers.
 */
#ifndef NB_NOTIFY_H
#define NB_NOTIFY_H

/*
 * Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID and opens the
 * sending socket. The watchdog is enabled when WATCHDOG_USEC is a positive
 * number and WATCHDOG_PID is unset or equal to getpid() (systemd sets the
 * pid so that a child inheriting the environment does not ping for its
 * parent). May be called again: it closes what the last call opened and
 * re-reads the environment.
 * Returns 1 if notifications will be sent, 0 if $NOTIFY_SOCKET is unset or
 * empty (every other function is then a no-op), -1 if it is set but unusable
 * (not absolute and not '@', too long, or no socket could be made): then
 * errno says why and the functions are no-ops as well.
 */
int notify_init(void);

/* Closes the socket; the functions are no-ops until the next notify_init(). */
void notify_close(void);

/*
 * Each sends one datagram; returns 0 when sent or when notifications are
 * off, -1 with errno set when sending failed.
 */

/* "READY=1": startup finished (connected, target checked), or a reload
 * finished (after notify_reloading()). */
int notify_ready(void);

/* "STATUS=<text>": one line for `systemctl status`. Newlines in the text
 * become blanks (a newline would start a new assignment); at most 1000
 * bytes are sent. */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "STOPPING=1": shutdown has begun. */
int notify_stopping(void);

/* "RELOADING=1\nMONOTONIC_USEC=<now>": a reload has begun; send
 * notify_ready() when it is done (whether or not the new config was
 * taken). MONOTONIC_USEC is CLOCK_MONOTONIC in microseconds, as systemd
 * requires with RELOADING=1. */
int notify_reloading(void);

/* "WATCHDOG=1": the loop is alive. A no-op returning 0 when the watchdog
 * is not enabled for this process (see notify_init). */
int notify_watchdog(void);

/* Seconds between two WATCHDOG=1 pings: half of WATCHDOG_USEC, as
 * sd_watchdog_enabled(3) advises; 0 if the watchdog is not enabled. */
double notify_watchdog_interval(void);

#endif
