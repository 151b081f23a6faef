/*
 * NAME
 *   udp_batch - a UDP socket read and written in batches (recvmmsg / sendmmsg), for the DNSBL front
 *
 * SYNOPSIS (JS, through src/fronts/dnsbl/batch-udp.ts)
 *   h = open(host, port, inBuf, inSlotBytes, inLens, peers, outBuf, outSlotBytes, outLens, onBatch)
 *   port(h)                      the bound port
 *   sendTo(h, bytes, port, host) one datagram now; 0 or an errno number
 *   peerAddress(h, i)            message i's source address as text (dgram's rinfo.address form)
 *   stats(h)                     [wakeups, batches, received, sent, sendErrors]
 *   close(h)                     stops reading; the descriptor is closed by the loop soon after
 *
 * DESCRIPTION
 *   The socket is opened, bound and made non-blocking here and watched with a uv_poll handle on
 *   Node's own loop. When it is readable, up to N datagrams (N = inLens.length) are read with one
 *   recvmmsg into the caller's buffers: datagram i at inBuf[i * inSlotBytes], its length in
 *   inLens[i] (a datagram longer than the slot is cut: length = inSlotBytes, so a slot one byte
 *   larger than the largest accepted query tells the oversize ones), its source in
 *   peers[i * 20 ...] (family 4|6, 0, port big-endian, 4 or 16 address octets). Then onBatch(n)
 *   is called once (as a MakeCallback: promises and nextTicks run after it); it sets outLens[i]
 *   to the length of the reply it wrote at outBuf[i * outSlotBytes], or 0 for none; the replies
 *   go out with sendmmsg to the sources. This repeats until the socket is drained (a short batch)
 *   or MAX_BATCHES_PER_WAKEUP batches (256 datagrams, about 2 ms of work), so the other fronts and
 *   timers on the loop get their turn; the poll is level-triggered, so the rest is read at the
 *   next turn.
 *
 *   No allocation per datagram or per batch (one number handed to onBatch). Send failures are
 *   counted and dropped, as a datagram lost on the way would be (the client asks again).
 *
 * PLATFORM
 *   Linux (recvmmsg, sendmmsg). Built by scripts/build-native.mjs at npm install.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define PEER_BYTES 20
#define MAX_BATCHES_PER_WAKEUP 4
#define STAT_COUNT 5

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int family;
  int polling;    /* the poll handle is started (close() not called yet) */
  int closed;     /* close() called: nothing more reaches JS */
  int handle_done; /* uv_close finished (or the poll never initialised) */
  int finalized;  /* the JS handle was collected */
  int in_env_teardown;
  unsigned batch;
  uint8_t *in;
  size_t in_slot;
  int32_t *in_lens;
  uint8_t *peers;
  uint8_t *out;
  size_t out_slot;
  int32_t *out_lens;
  struct mmsghdr *rmsgs;
  struct iovec *riov;
  struct mmsghdr *smsgs;
  struct iovec *siov;
  struct sockaddr_storage *addrs;
  napi_ref keep[6]; /* inBuf, inLens, peers, outBuf, outLens, onBatch */
  napi_ref resource;
  napi_async_context actx;
  /* Registered at open, removed only when the poll handle's close callback has run: Node then
     waits for it at environment teardown (a worker ending), before it unloads this library, so
     the close callback (code in this library) never runs after the unload. */
  napi_async_cleanup_hook_handle cleanup;
  double stats[STAT_COUNT];
} udp_batch_t;

enum { ST_WAKEUPS, ST_BATCHES, ST_RECEIVED, ST_SENT, ST_SEND_ERRORS };

/* ---- helpers */

static napi_value throw_errno(napi_env env, const char *syscall, int err, const char *host, int port) {
  char message[256];
  snprintf(message, sizeof message, "%s %s %s:%d (%s)", syscall, uv_err_name(-err), host, port, strerror(err));
  napi_value code, msg, error;
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_throw(env, error);
  return NULL;
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "udp_batch: " #call " failed");     \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static int typed_array(napi_env env, napi_value value, napi_typedarray_type want, void **data, size_t *length) {
  bool is;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, data, &ab, &offset) != napi_ok) return 0;
  return type == want;
}

/* parse_address - a literal into a sockaddr of the socket's family (IPv4 into ::ffff:a.b.c.d on IPv6). */
static int parse_address(int family, const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) return EAFNOSUPPORT;
    *len = sizeof *sin;
    return 0;
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons((uint16_t)port);
  if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
    struct in_addr v4;
    if (inet_pton(AF_INET, host, &v4) != 1) return EINVAL;
    sin6->sin6_addr.s6_addr[10] = 0xff;
    sin6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&sin6->sin6_addr.s6_addr[12], &v4, 4);
  }
  *len = sizeof *sin6;
  return 0;
}

static void maybe_free(udp_batch_t *s) {
  if (!s->handle_done || !s->finalized) return;
  free(s->rmsgs);
  free(s->riov);
  free(s->smsgs);
  free(s->siov);
  free(s->addrs);
  free(s);
}

static void release_js(udp_batch_t *s) {
  if (s->in_env_teardown) return;
  for (int i = 0; i < 6; i++) {
    if (s->keep[i] != NULL) napi_delete_reference(s->env, s->keep[i]);
    s->keep[i] = NULL;
  }
  if (s->resource != NULL) napi_delete_reference(s->env, s->resource);
  s->resource = NULL;
  if (s->actx != NULL) napi_async_destroy(s->env, s->actx);
  s->actx = NULL;
}

static void done_with_env(udp_batch_t *s) {
  if (s->cleanup == NULL) return;
  napi_async_cleanup_hook_handle cleanup = s->cleanup;
  s->cleanup = NULL;
  napi_remove_async_cleanup_hook(cleanup);
}

static void on_handle_closed(uv_handle_t *handle) {
  udp_batch_t *s = (udp_batch_t *)handle->data;
  /* Here, not in close(): close() may be called from inside onBatch, with its scope in use. */
  release_js(s);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  s->handle_done = 1;
  done_with_env(s);
  maybe_free(s);
}

static void stop(udp_batch_t *s) {
  if (s->closed) return;
  s->closed = 1;
  if (s->polling) {
    s->polling = 0;
    /* uv_poll_stop takes the descriptor out of epoll at once: it can be closed now, so the port
       is free when close() returns (a new bind right after it succeeds). */
    uv_poll_stop(&s->poll);
    close(s->fd);
    s->fd = -1;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  } else {
    release_js(s);
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    s->handle_done = 1;
    done_with_env(s);
  }
}

/* The environment ends (process exit, a worker terminated) with the socket still open: close it;
   Node waits until on_handle_closed says done (napi_remove_async_cleanup_hook). */
static void env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  udp_batch_t *s = (udp_batch_t *)arg;
  s->in_env_teardown = 1;
  if (s->closed) return; /* closing already: its close callback removes the hook */
  stop(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  udp_batch_t *s = (udp_batch_t *)data;
  s->finalized = 1;
  maybe_free(s);
}

static udp_batch_t *unwrap(napi_env env, napi_value value) {
  void *data = NULL;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  return (udp_batch_t *)data;
}

/* ---- the batch loop */

static void send_replies(udp_batch_t *s, unsigned n) {
  unsigned k = 0;
  for (unsigned i = 0; i < n; i++) {
    int32_t len = s->out_lens[i];
    if (len <= 0) continue;
    if ((size_t)len > s->out_slot) {
      s->stats[ST_SEND_ERRORS] += 1;
      continue;
    }
    s->siov[k].iov_base = s->out + (size_t)i * s->out_slot;
    s->siov[k].iov_len = (size_t)len;
    struct msghdr *h = &s->smsgs[k].msg_hdr;
    h->msg_name = &s->addrs[i];
    h->msg_namelen = s->rmsgs[i].msg_hdr.msg_namelen;
    h->msg_iov = &s->siov[k];
    h->msg_iovlen = 1;
    h->msg_control = NULL;
    h->msg_controllen = 0;
    h->msg_flags = 0;
    k++;
  }
  unsigned done = 0;
  while (done < k) {
    int r = sendmmsg(s->fd, s->smsgs + done, k - done, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        /* The send queue is full: the rest are lost, as on a congested link. */
        s->stats[ST_SEND_ERRORS] += k - done;
        return;
      }
      /* This one datagram cannot go (e.g. an unreachable address): skip it. */
      s->stats[ST_SEND_ERRORS] += 1;
      done += 1;
      continue;
    }
    s->stats[ST_SENT] += r;
    done += (unsigned)r;
  }
}

static void fill_peer(udp_batch_t *s, unsigned i) {
  uint8_t *p = s->peers + (size_t)i * PEER_BYTES;
  struct sockaddr_storage *ss = &s->addrs[i];
  memset(p, 0, PEER_BYTES);
  if (ss->ss_family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    p[0] = 4;
    memcpy(p + 2, &sin->sin_port, 2);
    memcpy(p + 4, &sin->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    p[0] = 6;
    memcpy(p + 2, &sin6->sin6_port, 2);
    memcpy(p + 4, &sin6->sin6_addr, 16);
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  udp_batch_t *s = (udp_batch_t *)handle->data;
  if (s->closed || status < 0) return;
  napi_env env = s->env;
  s->stats[ST_WAKEUPS] += 1;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, resource;
  napi_get_reference_value(env, s->keep[5], &fn);
  napi_get_reference_value(env, s->resource, &resource);
  for (int round = 0; round < MAX_BATCHES_PER_WAKEUP && !s->closed; round++) {
    for (unsigned i = 0; i < s->batch; i++) {
      s->rmsgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      s->rmsgs[i].msg_hdr.msg_flags = 0;
      s->rmsgs[i].msg_len = 0;
    }
    int n = recvmmsg(s->fd, s->rmsgs, s->batch, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      break; /* EAGAIN: drained; anything else: try again at the next wakeup */
    }
    if (n == 0) break;
    s->stats[ST_BATCHES] += 1;
    s->stats[ST_RECEIVED] += n;
    for (int i = 0; i < n; i++) {
      s->in_lens[i] = (int32_t)s->rmsgs[i].msg_len;
      s->out_lens[i] = 0;
      fill_peer(s, (unsigned)i);
    }
    napi_value argv[1], result;
    napi_create_uint32(env, (uint32_t)n, &argv[0]);
    napi_status st = napi_make_callback(env, s->actx, resource, fn, 1, argv, &result);
    if (st == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
      break;
    }
    if (st != napi_ok || s->closed) break;
    send_replies(s, (unsigned)n);
    if ((unsigned)n < s->batch) break; /* a short batch: the queue is empty */
  }
  napi_close_handle_scope(env, scope);
}

/* ---- JS functions */

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 10) {
    napi_throw_type_error(env, NULL, "udp_batch.open: 10 arguments");
    return NULL;
  }
  char host[64];
  size_t host_len;
  int32_t port, in_slot, out_slot;
  if (napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || napi_get_value_int32(env, argv[3], &in_slot) != napi_ok ||
      napi_get_value_int32(env, argv[7], &out_slot) != napi_ok) {
    napi_throw_type_error(env, NULL, "udp_batch.open: host string, port, slot sizes numbers");
    return NULL;
  }
  void *in, *in_lens, *peers, *out, *out_lens;
  size_t in_n, in_lens_n, peers_n, out_n, out_lens_n;
  if (!typed_array(env, argv[2], napi_uint8_array, &in, &in_n) || !typed_array(env, argv[4], napi_int32_array, &in_lens, &in_lens_n) ||
      !typed_array(env, argv[5], napi_uint8_array, &peers, &peers_n) || !typed_array(env, argv[6], napi_uint8_array, &out, &out_n) ||
      !typed_array(env, argv[8], napi_int32_array, &out_lens, &out_lens_n)) {
    napi_throw_type_error(env, NULL, "udp_batch.open: Uint8Array / Int32Array buffers expected");
    return NULL;
  }
  napi_valuetype fn_type;
  CHECK(napi_typeof(env, argv[9], &fn_type));
  size_t batch = in_lens_n;
  if (fn_type != napi_function || port < 0 || port > 65535 || in_slot < 12 || out_slot < 12 || batch < 1 || batch > 1024 ||
      out_lens_n < batch || in_n < batch * (size_t)in_slot || out_n < batch * (size_t)out_slot || peers_n < batch * PEER_BYTES) {
    napi_throw_range_error(env, NULL, "udp_batch.open: buffer sizes do not match the batch");
    return NULL;
  }

  int family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
  struct sockaddr_storage ss;
  socklen_t ss_len;
  if (parse_address(family, host, port, &ss, &ss_len) != 0) return throw_errno(env, "bind", EINVAL, host, port);
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno, host, port);
  if (bind(fd, (struct sockaddr *)&ss, ss_len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err, host, port);
  }

  udp_batch_t *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    napi_throw_error(env, NULL, "udp_batch.open: out of memory");
    return NULL;
  }
  s->env = env;
  s->fd = fd;
  s->family = family;
  s->batch = (unsigned)batch;
  s->in = in;
  s->in_slot = (size_t)in_slot;
  s->in_lens = in_lens;
  s->peers = peers;
  s->out = out;
  s->out_slot = (size_t)out_slot;
  s->out_lens = out_lens;
  s->rmsgs = calloc(batch, sizeof *s->rmsgs);
  s->riov = calloc(batch, sizeof *s->riov);
  s->smsgs = calloc(batch, sizeof *s->smsgs);
  s->siov = calloc(batch, sizeof *s->siov);
  s->addrs = calloc(batch, sizeof *s->addrs);
  if (s->rmsgs == NULL || s->riov == NULL || s->smsgs == NULL || s->siov == NULL || s->addrs == NULL) {
    s->handle_done = s->finalized = 1;
    close(fd);
    maybe_free(s);
    napi_throw_error(env, NULL, "udp_batch.open: out of memory");
    return NULL;
  }
  for (size_t i = 0; i < batch; i++) {
    s->riov[i].iov_base = s->in + i * s->in_slot;
    s->riov[i].iov_len = s->in_slot;
    s->rmsgs[i].msg_hdr.msg_name = &s->addrs[i];
    s->rmsgs[i].msg_hdr.msg_iov = &s->riov[i];
    s->rmsgs[i].msg_hdr.msg_iovlen = 1;
  }

  const int keep_args[6] = {2, 4, 5, 6, 8, 9};
  for (int i = 0; i < 6; i++) napi_create_reference(env, argv[keep_args[i]], 1, &s->keep[i]);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &s->resource);
  napi_create_string_utf8(env, "BlockSmithUdpBatch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &s->actx);

  uv_loop_t *loop;
  napi_value handle;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &s->poll, fd) != 0) {
    release_js(s);
    s->handle_done = s->finalized = 1;
    close(fd);
    maybe_free(s);
    napi_throw_error(env, NULL, "udp_batch.open: cannot watch the socket on the event loop");
    return NULL;
  }
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  s->polling = 1;
  napi_add_async_cleanup_hook(env, env_cleanup, s, &s->cleanup);
  if (napi_create_external(env, s, finalize, NULL, &handle) != napi_ok) {
    stop(s);
    s->finalized = 1;
    napi_throw_error(env, NULL, "udp_batch.open: cannot create the handle");
    return NULL;
  }
  return handle;
}

static udp_batch_t *handle_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "udp_batch: missing arguments");
    return NULL;
  }
  udp_batch_t *s = unwrap(env, argv[0]);
  if (s == NULL) napi_throw_type_error(env, NULL, "udp_batch: not a handle");
  return s;
}

static napi_value js_port(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  udp_batch_t *s = handle_arg(env, info, 1, argv);
  if (s == NULL) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (s->closed || getsockname(s->fd, (struct sockaddr *)&ss, &len) != 0) {
    napi_throw_error(env, NULL, "udp_batch.port: the socket is closed");
    return NULL;
  }
  int port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  CHECK(napi_create_int32(env, port, &out));
  return out;
}

static napi_value js_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[4], out;
  udp_batch_t *s = handle_arg(env, info, 4, argv);
  if (s == NULL) return NULL;
  void *data;
  size_t len;
  int32_t port;
  char host[64];
  size_t host_len;
  if (!typed_array(env, argv[1], napi_uint8_array, &data, &len) || napi_get_value_int32(env, argv[2], &port) != napi_ok ||
      napi_get_value_string_utf8(env, argv[3], host, sizeof host, &host_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "udp_batch.sendTo: (handle, Uint8Array, port, address)");
    return NULL;
  }
  int err = 0;
  if (s->closed) {
    err = EBADF;
  } else {
    struct sockaddr_storage ss;
    socklen_t ss_len;
    err = port < 0 || port > 65535 ? EINVAL : parse_address(s->family, host, port, &ss, &ss_len);
    if (err == 0) {
      for (;;) {
        ssize_t r = sendto(s->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, ss_len);
        if (r >= 0) break;
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
    }
    s->stats[err == 0 ? ST_SENT : ST_SEND_ERRORS] += 1;
  }
  CHECK(napi_create_int32(env, err, &out));
  return out;
}

static napi_value js_peer_address(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  udp_batch_t *s = handle_arg(env, info, 2, argv);
  if (s == NULL) return NULL;
  uint32_t i;
  if (napi_get_value_uint32(env, argv[1], &i) != napi_ok || i >= s->batch) {
    napi_throw_range_error(env, NULL, "udp_batch.peerAddress: index out of the batch");
    return NULL;
  }
  char text[INET6_ADDRSTRLEN] = "";
  struct sockaddr_storage *ss = &s->addrs[i];
  if (ss->ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, text, sizeof text);
  else if (ss->ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, text, sizeof text);
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  udp_batch_t *s = handle_arg(env, info, 1, argv);
  if (s == NULL) return NULL;
  CHECK(napi_create_array_with_length(env, STAT_COUNT, &out));
  for (uint32_t i = 0; i < STAT_COUNT; i++) {
    CHECK(napi_create_double(env, s->stats[i], &v));
    CHECK(napi_set_element(env, out, i, v));
  }
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_batch_t *s = handle_arg(env, info, 1, argv);
  if (s == NULL) return NULL;
  if (!s->closed) stop(s);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"port", NULL, js_port, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, js_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"peerAddress", NULL, js_peer_address, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
