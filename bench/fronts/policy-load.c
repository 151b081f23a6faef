/*
 * NAME
 *   bench/fronts/policy-load - a lean Postfix-like policy load generator (C, epoll, one thread)
 *
 * SYNOPSIS
 *   cc -O2 -o policy-load bench/fronts/policy-load.c
 *   policy-load --port P --connections N --duration-ms D --ips FILE
 *               [--host 127.0.0.1] [--rate R] [--max-requests N]
 *
 * DESCRIPTION
 *   Opens N TCP connections and, on each, does what a Postfix smtpd process does: one request,
 *   wait for its `action=...` reply (ended by an empty line), then the next. Client addresses
 *   cycle through the lines of FILE. Written in C so that the generator costs the server's
 *   figures as little as possible: bench/fronts/policy-client.ts (Node) shared the 2 vCPUs with
 *   the server and bounded both the rate and the tail it measured.
 *
 *   Closed loop (no --rate): each connection sends its next request as soon as the answer
 *   arrives; latency is from the write to the end of the reply. This saturates the server.
 *
 *   Paced (--rate R): request k is due at start + k/R (one schedule for all connections) and is
 *   written on a free connection as soon as it is due; when every connection is busy it waits,
 *   and its latency still counts from its due time (no coordinated omission: a stalled server
 *   cannot hide its stall by slowing the generator down).
 *
 *   Every latency is kept (clock_gettime CLOCK_MONOTONIC, ns) and sorted at the end. Prints one
 *   JSON line: requests, seconds, rate, p50Ms, p99Ms, p999Ms, maxMs, late (paced: requests
 *   written more than 1 ms after their due time), timeouts, errors, actions (replies by first
 *   word of the action).
 *
 * LIMITS
 *   Sending stops at --duration-ms (or after --max-requests); replies still outstanding are
 *   waited for at most 5 s more, then counted as timeouts. At most 4,096 connections.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 4096
#define REPLY_BUFFER 4096
#define MAX_ACTIONS 16

struct conn {
  int fd;
  int busy;             /* a request written (or being written), its reply not yet read */
  uint64_t started_ns;  /* closed loop: write time; paced: due time */
  const char *out;      /* the request being written */
  size_t out_len, out_off;
  char in[REPLY_BUFFER];
  size_t in_len;
};

static struct conn conns[MAX_CONNECTIONS];
static char **requests;
static size_t *request_lens;
static size_t request_count;
static uint64_t *latencies;
static size_t latency_count, latency_cap;
static char action_names[MAX_ACTIONS][16];
static uint64_t action_counts[MAX_ACTIONS];
static int epfd;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "policy-load: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void usage(void) {
  fprintf(stderr, "usage: policy-load --port P --connections N --duration-ms D --ips FILE [--host H] [--rate R] [--max-requests N]\n");
  exit(2);
}

static void load_requests(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) die(path);
  char line[256];
  size_t cap = 1024;
  requests = malloc(cap * sizeof *requests);
  request_lens = malloc(cap * sizeof *request_lens);
  while (fgets(line, sizeof line, f) != NULL) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0') continue;
    if (request_count == cap) {
      cap *= 2;
      requests = realloc(requests, cap * sizeof *requests);
      request_lens = realloc(request_lens, cap * sizeof *request_lens);
    }
    /* The same attributes as policy-client.ts: what Postfix 3.x sends at RCPT. */
    char *r = NULL;
    int n = asprintf(&r,
                     "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
                     "client_address=%s\nclient_name=unknown\nreverse_client_name=unknown\nhelo_name=mail.example.net\n"
                     "sender=bounce@example.net\nrecipient=user@example.org\nrecipient_count=0\nqueue_id=\ninstance=123.456.789.0\n"
                     "size=0\netrn_domain=\nstress=\nsasl_method=\nsasl_username=\nsasl_sender=\nccert_subject=\nccert_issuer=\n"
                     "ccert_fingerprint=\nencryption_protocol=\nencryption_cipher=\nencryption_keysize=0\n\n",
                     line);
    if (n < 0) die("asprintf");
    requests[request_count] = r;
    request_lens[request_count] = (size_t)n;
    request_count++;
  }
  fclose(f);
  if (request_count == 0) {
    fprintf(stderr, "policy-load: %s holds no address\n", path);
    exit(2);
  }
}

static void record(uint64_t ns) {
  if (latency_count == latency_cap) {
    latency_cap = latency_cap == 0 ? 1 << 20 : latency_cap * 2;
    latencies = realloc(latencies, latency_cap * sizeof *latencies);
    if (latencies == NULL) die("realloc");
  }
  latencies[latency_count++] = ns;
}

static void count_action(const char *reply, size_t len) {
  /* reply is "action=WORD ..." without its final empty line */
  char word[16];
  size_t i = 0, p = 7;
  if (len < 7 || memcmp(reply, "action=", 7) != 0) {
    strcpy(word, "(malformed)");
  } else {
    while (p < len && reply[p] != ' ' && reply[p] != '\n' && i < sizeof word - 1) word[i++] = reply[p++];
    word[i] = '\0';
  }
  for (int a = 0; a < MAX_ACTIONS; a++) {
    if (action_names[a][0] == '\0') strcpy(action_names[a], word);
    if (strcmp(action_names[a], word) == 0) {
      action_counts[a]++;
      return;
    }
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double percentile_ms(double p) {
  if (latency_count == 0) return -1;
  size_t rank = (size_t)((p / 100.0) * (double)latency_count + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > latency_count) rank = latency_count;
  return (double)latencies[rank - 1] / 1e6;
}

static void set_events(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) die("epoll_ctl");
}

/* Write what is left of c's request; 0 when done, 1 when the socket is full, -1 on error. */
static int flush(struct conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n > 0) {
      c->out_off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_events(c, EPOLLIN | EPOLLOUT);
      return 1;
    }
    return -1;
  }
  return 0;
}

static uint64_t next_request;  /* requests written so far (also the next schedule index) */

/* Start request `k` on free connection c; `started` is its write time or its due time. */
static int start(struct conn *c, uint64_t started) {
  size_t r = (size_t)(next_request++ % request_count);
  c->busy = 1;
  c->started_ns = started;
  c->out = requests[r];
  c->out_len = request_lens[r];
  c->out_off = 0;
  return flush(c);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *ips = NULL;
  int port = 0, connections = 0;
  long duration_ms = 0;
  double rate = 0;
  uint64_t max_requests = 0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--host") == 0) host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--connections") == 0) connections = atoi(argv[++i]);
    else if (strcmp(argv[i], "--duration-ms") == 0) duration_ms = atol(argv[++i]);
    else if (strcmp(argv[i], "--ips") == 0) ips = argv[++i];
    else if (strcmp(argv[i], "--rate") == 0) rate = atof(argv[++i]);
    else if (strcmp(argv[i], "--max-requests") == 0) max_requests = strtoull(argv[++i], NULL, 10);
    else usage();
  }
  if (port <= 0 || port > 65535 || connections <= 0 || connections > MAX_CONNECTIONS || duration_ms <= 0 || ips == NULL || rate < 0) usage();
  load_requests(ips);

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "policy-load: --host %s is not an IPv4 address\n", host);
    return 2;
  }
  epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  for (int i = 0; i < connections; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) die("fcntl");
    conns[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  }
  /* Paced: a timerfd (ns resolution; epoll_wait's own timeout is in ms) wakes the loop at the next due time. */
  int tfd = -1;
  uint64_t interval_ns = 0;
  if (rate > 0) {
    interval_ns = (uint64_t)(1e9 / rate);
    if (interval_ns == 0) interval_ns = 1;
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0) die("timerfd_create");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) != 0) die("epoll_ctl timerfd");
  }

  const uint64_t t0 = now_ns();
  const uint64_t stop_at = t0 + (uint64_t)duration_ms * 1000000ull;
  const uint64_t give_up_at = stop_at + 5000000000ull;
  uint64_t completed = 0, errors = 0, late = 0, in_flight = 0;
  int sending = 1;
  int free_list[MAX_CONNECTIONS], free_count = 0;

  if (rate == 0) {
    for (int i = 0; i < connections; i++) {
      if (max_requests > 0 && next_request >= max_requests) break;
      in_flight++;
      if (start(&conns[i], now_ns()) < 0) { errors++; in_flight--; conns[i].busy = 0; }
    }
  } else {
    for (int i = 0; i < connections; i++) free_list[free_count++] = i;
  }

  struct epoll_event events[256];
  for (;;) {
    uint64_t now = now_ns();
    if (sending && (now >= stop_at || (max_requests > 0 && next_request >= max_requests))) sending = 0;
    if (!sending && in_flight == 0) break;
    if (now >= give_up_at) break;
    if (rate > 0 && sending) {
      /* Write every due request that has a free connection. */
      while (free_count > 0 && sending) {
        uint64_t due = t0 + next_request * interval_ns;
        if (due > now || due >= stop_at || (max_requests > 0 && next_request >= max_requests)) break;
        struct conn *c = &conns[free_list[--free_count]];
        if (now - due > 1000000ull) late++;
        in_flight++;
        if (start(c, due) < 0) { errors++; in_flight--; c->busy = 0; }
      }
      uint64_t due = t0 + next_request * interval_ns;
      struct itimerspec its = {0};
      uint64_t at = due > now ? due : now + 1000;  /* all busy: a due request waits for a reply, which wakes us */
      its.it_value.tv_sec = (time_t)(at / 1000000000ull);
      its.it_value.tv_nsec = (long)(at % 1000000000ull);
      if (free_count > 0 || due > now) {
        if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0) die("timerfd_settime");
      }
    }
    int timeout_ms = (int)((give_up_at - now) / 1000000ull) + 1;
    if (sending && rate == 0) timeout_ms = (int)((stop_at > now ? stop_at - now : 0) / 1000000ull) + 1;
    int n = epoll_wait(epfd, events, 256, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int e = 0; e < n; e++) {
      struct conn *c = events[e].data.ptr;
      if (c == NULL) {
        uint64_t expirations;
        if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("read timerfd");
        continue;
      }
      if (events[e].events & EPOLLOUT) {
        int f = flush(c);
        if (f < 0) { errors++; continue; }
        if (f == 0) set_events(c, EPOLLIN);
      }
      if (!(events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      for (;;) {
        ssize_t got = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (got <= 0) {
          /* The server closed or reset: this connection is done. */
          if (c->busy) { errors++; in_flight--; c->busy = 0; }
          epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
          close(c->fd);
          c->fd = -1;
          break;
        }
        c->in_len += (size_t)got;
        char *end = memmem(c->in, c->in_len, "\n\n", 2);
        if (end == NULL) {
          if (c->in_len == sizeof c->in) { errors++; c->in_len = 0; }
          continue;
        }
        uint64_t done = now_ns();
        if (!c->busy) { errors++; c->in_len = 0; break; } /* a reply nobody asked for */
        record(done - c->started_ns);
        count_action(c->in, (size_t)(end - c->in));
        size_t rest = c->in_len - (size_t)(end + 2 - c->in);
        memmove(c->in, end + 2, rest);
        c->in_len = rest;
        c->busy = 0;
        in_flight--;
        completed++;
        if (done >= stop_at || (max_requests > 0 && next_request >= max_requests)) sending = 0;
        if (!sending) continue;
        if (rate == 0) {
          in_flight++;
          if (start(c, done) < 0) { errors++; in_flight--; c->busy = 0; }
        } else {
          uint64_t due = t0 + next_request * interval_ns;
          if (due <= done && due < stop_at) {
            if (done - due > 1000000ull) late++;
            in_flight++;
            if (start(c, due) < 0) { errors++; in_flight--; c->busy = 0; }
          } else {
            free_list[free_count++] = (int)(c - conns);
          }
        }
      }
    }
  }
  const double seconds = (double)(now_ns() - t0) / 1e9;
  qsort(latencies, latency_count, sizeof *latencies, cmp_u64);
  printf("{\"requests\":%llu,\"seconds\":%.3f,\"rate\":%.0f,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"p999Ms\":%.3f,\"maxMs\":%.3f,"
         "\"late\":%llu,\"timeouts\":%llu,\"errors\":%llu,\"targetRate\":%.0f,\"connections\":%d,\"actions\":{",
         (unsigned long long)completed, seconds, (double)completed / seconds, percentile_ms(50), percentile_ms(99), percentile_ms(99.9),
         latency_count > 0 ? (double)latencies[latency_count - 1] / 1e6 : -1.0, (unsigned long long)late,
         (unsigned long long)in_flight, (unsigned long long)errors, rate, connections);
  for (int a = 0; a < MAX_ACTIONS && action_names[a][0] != '\0'; a++) printf("%s\"%s\":%llu", a ? "," : "", action_names[a], (unsigned long long)action_counts[a]);
  printf("}}\n");
  return 0;
}
