/*
 * NAME
 *   bench/gate/refuse-load - the refusal load generator of bench/gate: connect, first reply, close
 *
 * SYNOPSIS
 *   cc -O2 -o refuse-load bench/gate/refuse-load.c      (bench/gate/run.ts does this)
 *   refuse-load -p PORT [-c CONCURRENCY] [-d DURATION_MS] [-a NET] [-n ADDRESSES] [-m MAX] [-t TIMEOUT_MS]
 *
 * DESCRIPTION
 *   One thread, one epoll set, CONCURRENCY (default 50) connections in flight. Each connection
 *   is a non-blocking socket bound (before connect) to the next source address of
 *   127.NET.x.y (x from 1, y 1..250, ADDRESSES of them, default 1,000; the same addresses as
 *   bench/gate/run.ts gives the Node generator), connected to 127.0.0.1:PORT. It reads the
 *   server's first reply, to its last line (`NNN text` after any `NNN-` lines), and closes
 *   (an ordinary close: FIN, as the Node generator's destroy()). Latency is from the connect()
 *   call to that reply. A finished connection is replaced at once by the next one.
 *
 *   New connections start until DURATION_MS (default 5,000) has passed or MAX connections have
 *   started; the ones in flight then finish (each has TIMEOUT_MS, default 10,000: after that
 *   it counts as an error). Seconds run from the first connect to the last finish.
 *
 *   IP_BIND_ADDRESS_NO_PORT lets the kernel choose the source port at connect time, by the
 *   whole four-tuple, so 1,000 addresses never run out of ports at bind().
 *
 *   Why C: a Node generator opening ~2,000 connections a second is itself about a core; this
 *   one is a few system calls per connection, so on a 2-vCPU machine the server under test
 *   (pinned to the other CPU) is what sets the rate.
 *
 * OUTPUT
 *   One JSON line on stdout, the fields of gate-client.ts's refuse mode:
 *   {"connections":N,"seconds":S,"rate":R,"p50Ms":..,"p99Ms":..,"maxMs":..,"codes":{"554":N},
 *    "errors":N,"firstError":"...","loadCpuMs":N}
 *   plus loadCpuMs, this process's own CPU time (user + system, getrusage), which shows whether
 *   the generator itself was near a core. Exit status 2 on bad arguments, 1 when epoll itself fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define REPLY_MAX 4096

struct slot {
	int fd;                 /* -1: free */
	double started;         /* ms, CLOCK_MONOTONIC */
	size_t len;
	char buf[REPLY_MAX];
};

static double now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double *latencies;
static size_t nlat, caplat;
static long codes[1000];
static long errors;
static char first_error[160];

static void error_seen(const char *what, int err) {
	errors++;
	if (first_error[0] == '\0') snprintf(first_error, sizeof first_error, "%s: %s", what, strerror(err));
}

static void latency(double ms) {
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 65536;
		latencies = realloc(latencies, caplat * sizeof *latencies);
		if (latencies == NULL) { perror("realloc"); exit(1); }
	}
	latencies[nlat++] = ms;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* 0: need more bytes; 1: a complete reply, its code in *code (-1 when the last line is not `NNN `). */
static int reply_done(const struct slot *s, int *code) {
	size_t start = 0;
	for (size_t i = 0; i + 1 < s->len; i++) {
		if (s->buf[i] != '\r' || s->buf[i + 1] != '\n') continue;
		const char *l = s->buf + start;
		size_t n = i - start;
		start = i + 2;
		if (n >= 3 && l[0] >= '0' && l[0] <= '9' && l[1] >= '0' && l[1] <= '9' && l[2] >= '0' && l[2] <= '9') {
			if (n == 3 || l[3] == ' ') {
				*code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
				return 1;
			}
			if (l[3] == '-') continue;
		}
		*code = -1;
		return 1;
	}
	return 0;
}

static void usage(void) {
	fprintf(stderr, "usage: refuse-load -p PORT [-c CONCURRENCY] [-d DURATION_MS] [-a NET] [-n ADDRESSES] [-m MAX] [-t TIMEOUT_MS]\n");
	exit(2);
}

int main(int argc, char **argv) {
	int port = 0, concurrency = 50, net = 0, naddr = 1000, opt;
	long duration = 5000, max = -1, timeout = 10000;
	while ((opt = getopt(argc, argv, "p:c:d:a:n:m:t:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'c': concurrency = atoi(optarg); break;
		case 'd': duration = atol(optarg); break;
		case 'a': net = atoi(optarg); break;
		case 'n': naddr = atoi(optarg); break;
		case 'm': max = atol(optarg); break;
		case 't': timeout = atol(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535 || concurrency < 1 || concurrency > 60000 || net < 0 || net > 255 || naddr < 1 || naddr > 250 * 254 || duration < 0 || timeout < 1) usage();

	struct slot *slots = calloc((size_t)concurrency, sizeof *slots);
	int ep = epoll_create1(0);
	if (slots == NULL || ep < 0) { perror("epoll_create1"); return 1; }
	for (int i = 0; i < concurrency; i++) slots[i].fd = -1;

	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	dst.sin_addr.s_addr = htonl(0x7f000001);
	long started = 0, next_addr = 0, open = 0;
	const double t0 = now_ms(), until = t0 + (double)duration;
	double last_done = t0;

	/* start - a new connection in slot s, or leave it free when the run is over. */
#define CAN_START() (now_ms() < until && (max < 0 || started < max))
	for (;;) {
		for (int i = 0; i < concurrency; i++) {
			struct slot *s = &slots[i];
			while (s->fd < 0 && CAN_START()) {
				started++;
				long a = next_addr++ % naddr;
				struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = 0 };
				src.sin_addr.s_addr = htonl((127u << 24) | ((unsigned)net << 16) | ((unsigned)(1 + a / 250) << 8) | (unsigned)(1 + a % 250));
				int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
				if (fd < 0) { error_seen("socket", errno); break; }
				int one = 1;
				setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
				s->started = now_ms();
				if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) { error_seen("bind", errno); close(fd); continue; }
				if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) { error_seen("connect", errno); close(fd); continue; }
				struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i };
				if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) { perror("epoll_ctl"); return 1; }
				s->fd = fd;
				s->len = 0;
				open++;
			}
		}
		if (open == 0) break;

		struct epoll_event events[256];
		int n = epoll_wait(ep, events, 256, 100);
		if (n < 0) {
			if (errno == EINTR) continue;
			perror("epoll_wait");
			return 1;
		}
		double t = now_ms();
		for (int k = 0; k < n; k++) {
			struct slot *s = &slots[events[k].data.u32];
			if (s->fd < 0) continue;
			int done = 0, code = -1;
			ssize_t r = read(s->fd, s->buf + s->len, REPLY_MAX - s->len);
			if (r > 0) {
				s->len += (size_t)r;
				if (reply_done(s, &code)) {
					done = 1;
					latency(t - s->started);
					if (code >= 0) codes[code]++;
					else error_seen("reply", EPROTO);
				} else if (s->len == REPLY_MAX) {
					done = 1;
					error_seen("reply too long", EMSGSIZE);
				}
			} else if (r == 0) {
				done = 1;
				error_seen("closed before a reply", ECONNRESET);
			} else if (errno != EAGAIN && errno != EINTR) {
				done = 1;
				error_seen("read", errno);
			}
			if (done) {
				close(s->fd); /* also leaves the epoll set */
				s->fd = -1;
				open--;
				last_done = t;
			}
		}
		/* Connections past their timeout count as errors. */
		for (int i = 0; i < concurrency; i++) {
			struct slot *s = &slots[i];
			if (s->fd >= 0 && t - s->started > (double)timeout) {
				error_seen("no reply in time", ETIMEDOUT);
				close(s->fd);
				s->fd = -1;
				open--;
				last_done = t;
			}
		}
	}

	qsort(latencies, nlat, sizeof *latencies, cmp_double);
#define PCT(p) (nlat ? latencies[(size_t)((p) * (double)nlat) < nlat ? (size_t)((p) * (double)nlat) : nlat - 1] : 0.0)
	double seconds = (last_done - t0) / 1e3;
	printf("{\"connections\":%zu,\"seconds\":%.3f,\"rate\":%.0f,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f,\"codes\":{",
	       nlat, seconds, seconds > 0 ? (double)nlat / seconds : 0.0, PCT(0.5), PCT(0.99), nlat ? latencies[nlat - 1] : 0.0);
	int first = 1;
	for (int c = 0; c < 1000; c++) {
		if (codes[c] == 0) continue;
		printf("%s\"%03d\":%ld", first ? "" : ",", c, codes[c]);
		first = 0;
	}
	printf("},\"errors\":%ld,\"firstError\":\"", errors);
	for (const char *p = first_error; *p; p++) {
		if (*p == '"' || *p == '\\') putchar('\\');
		putchar((unsigned char)*p < 0x20 ? '?' : *p);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 + (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
	printf("\",\"loadCpuMs\":%.0f}\n", cpu);
	return 0;
}
