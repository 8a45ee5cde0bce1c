/* client: legitimate connections at a given rate, each recorded.
 *
 *   client --dst 10.99.1.1 --port 8080 --rate 30 [--arrival poisson|constant]
 *          [--duration S] [--count N] [--wait S] [--seed N] [--out FILE]
 *          [--src IP --sources N] [--keep-open 1]
 *
 * Starts connections (nonblocking connect()) for --duration seconds (or
 * --count connections), then waits up to --wait more seconds for the
 * outstanding ones; any still pending then are recorded as "pending".
 * On success the socket is closed at once (the client closes first), or
 * with --keep-open 1 held open, silent, until the client exits (a connect
 * flood). --src IP --sources N binds connection i to source address
 * IP + (i mod N): N real hosts.
 * One CSV line per connect(): start_s, outcome (established|failed|pending),
 * errno name, connect_ms, syn_retrans (tcpi_total_retrans at establishment).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAXC 200000

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static uint64_t rng;
static double next_unit(void) {
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

struct conn { double start, done; int fd, state, err, retrans; };
static struct conn *cs;

int main(int argc, char **argv) {
    const char *dst_s = NULL, *arrival = "poisson", *out = "-", *src_s = NULL;
    int port = 8080, sources = 1, keep_open = 0;
    double rate = 0, duration = 10, wait = 10;
    long count = MAXC;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--dst")) dst_s = v;
        else if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--rate")) rate = atof(v);
        else if (!strcmp(a, "--arrival")) arrival = v;
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--count")) count = atol(v);
        else if (!strcmp(a, "--wait")) wait = atof(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--src")) src_s = v;
        else if (!strcmp(a, "--sources")) sources = atoi(v);
        else if (!strcmp(a, "--keep-open")) keep_open = atoi(v);
        else { fprintf(stderr, "client: unknown option %s\n", a); return 2; }
    }
    int constant = !strcmp(arrival, "constant");
    struct in_addr dst, src = {0};
    if (argc % 2 == 0 || !dst_s || !inet_aton(dst_s, &dst) || (src_s && !inet_aton(src_s, &src)) || sources < 1 ||
        sources > 254 || rate <= 0 || rate > 100000 || duration <= 0 ||
        duration > 3600 || wait < 0 || wait > 3600 || count < 1 || count > MAXC ||
        (!constant && strcmp(arrival, "poisson"))) {
        fprintf(stderr, "client: bad arguments\n");
        return 2;
    }
    rng = seed * 0x9E3779B97F4A7C15ULL + 777;
    cs = calloc(count, sizeof *cs);
    struct rlimit nofile = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &nofile);
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    int ep = epoll_create1(0);
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = dst};
    double t0 = now_s(), stop_at = t0 + duration, end = stop_at + wait;
    double next = t0 + (constant ? 0 : -log(next_unit()) / rate);
    long started = 0, outstanding = 0;
    struct epoll_event evs[256];
    while (!stop) {
        double now = now_s();
        while (started < count && next <= now && next < stop_at) {
            struct conn *c = &cs[started];
            c->start = now - t0;
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (src_s && c->fd >= 0) {
                struct sockaddr_in from = {.sin_family = AF_INET,
                                           .sin_addr.s_addr = htonl(ntohl(src.s_addr) + started % sources)};
                if (bind(c->fd, (struct sockaddr *)&from, sizeof from)) { close(c->fd); c->fd = -1; }
            }
            int r = c->fd < 0 ? -1 : connect(c->fd, (struct sockaddr *)&to, sizeof to);
            if (r == 0) { c->state = 1; c->done = c->start; if (!keep_open) close(c->fd); }
            else if (errno == EINPROGRESS) {
                struct epoll_event ce = {.events = EPOLLOUT, .data.u64 = (uint64_t)started};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ce);
                outstanding++;
            } else { c->state = 2; c->err = errno; c->done = c->start; if (c->fd >= 0) close(c->fd); }
            started++;
            next += constant ? 1.0 / rate : -log(next_unit()) / rate;
        }
        int more = started < count && next < stop_at;
        if (!more && outstanding == 0) break;
        if (now >= end) break;
        double until = more ? next : end;
        struct itimerspec its = {0};
        its.it_value.tv_sec = (time_t)until;
        its.it_value.tv_nsec = (long)((until - (time_t)until) * 1e9);
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        int n = epoll_wait(ep, evs, 256, 1000);
        double tn = now_s();
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == UINT64_MAX) { uint64_t x; if (read(tfd, &x, sizeof x)) {} continue; }
            struct conn *c = &cs[evs[i].data.u64];
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            c->done = tn - t0;
            if (err == 0) {
                struct tcp_info ti;
                socklen_t tl = sizeof ti;
                if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0) c->retrans = (int)ti.tcpi_total_retrans;
                c->state = 1;
            } else { c->state = 2; c->err = err; }
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            if (!keep_open || c->state != 1) close(c->fd);
            outstanding--;
        }
    }
    FILE *f = strcmp(out, "-") ? fopen(out, "w") : stdout;
    if (!f) { perror("client: out"); return 1; }
    fprintf(f, "start_s,outcome,errno,connect_ms,syn_retrans\n");
    long est = 0;
    for (long i = 0; i < started; i++) {
        struct conn *c = &cs[i];
        const char *o = c->state == 1 ? "established" : c->state == 2 ? "failed" : "pending";
        est += c->state == 1;
        fprintf(f, "%.6f,%s,%s,%.3f,%d\n", c->start, o, c->state == 2 ? strerrorname_np(c->err) : "",
                c->state ? (c->done - c->start) * 1e3 : -1.0, c->retrans);
        if (c->state == 0) close(c->fd);
    }
    if (f != stdout) fclose(f);
    fprintf(stderr, "client started=%ld established=%ld\n", started, est);
    return 0;
}
