/* listener: a plain TCP listener for the kernel check.
 *
 *   listener --port 8080 --backlog 128 [--accept-rate R] [--workers N]
 *            [--service constant|exponential] [--seed S] [--duration S]
 *            [--count-peer IP] [--log FILE] [--defer-accept S]
 *
 * listen(backlog). With --accept-rate 0 (the default) it accepts at once.
 * With R > 0 it is a server process of N workers (default 1): a free worker
 * accept()s the oldest connection and is then busy for one service time
 * (mean N / R seconds, constant or exponential), then accept()s again; a
 * worker with nothing to accept waits for the next connection. Every
 * accepted connection costs a service time, dead or alive (the application
 * learns it is dead only by serving it). This is synsim's [server] workers /
 * service_time / accept_rate model; one thread plays the N workers (their
 * busy-until times), so the service times are exact and the order of
 * accept()s is the accept queue's. Each accepted connection is read until
 * EOF (or error) and closed, whatever its worker is doing. Exits after
 * --duration seconds or on SIGINT/SIGTERM, printing accepted/closed counts
 * (and, with --count-peer, how many of the accepted came from that address).
 * --log FILE: one line per accept(), its CLOCK_MONOTONIC time in seconds.
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

#define MAXW 1024

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

static void arm(int tfd, double at) {
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)at;
    its.it_value.tv_nsec = (long)((at - (time_t)at) * 1e9);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

int main(int argc, char **argv) {
    int port = 8080, backlog = 128, workers = 1;
    double accept_rate = 0, duration = 60;
    const char *service = "constant";
    uint64_t seed = 1;
    struct in_addr peer = {0};
    FILE *log_f = NULL;
    int defer_accept = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--backlog")) backlog = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--accept-rate")) accept_rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--service")) service = argv[i + 1];
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--duration")) duration = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--log")) { if (!(log_f = fopen(argv[i + 1], "w"))) return 2; }
        else if (!strcmp(argv[i], "--count-peer")) { if (!inet_aton(argv[i + 1], &peer)) return 2; }
        else if (!strcmp(argv[i], "--defer-accept")) defer_accept = atoi(argv[i + 1]);
        else { fprintf(stderr, "listener: unknown option %s\n", argv[i]); return 2; }
    }
    int exponential = !strcmp(service, "exponential");
    if (argc % 2 == 0 || duration <= 0 || duration > 3600 || accept_rate < 0 || workers < 1 || workers > MAXW ||
        (!exponential && strcmp(service, "constant"))) {
        fprintf(stderr, "listener: bad arguments\n");
        return 2;
    }
    rng = seed * 0x9E3779B97F4A7C15ULL + 4242;
    /* A connect flood keeps thousands of connections open. */
    struct rlimit nofile = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &nofile);
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    /* TCP_DEFER_ACCEPT in seconds, as nginx's "deferred" sets it (1). */
    if (defer_accept > 0 && setsockopt(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_accept, sizeof defer_accept)) {
        perror("listener: TCP_DEFER_ACCEPT");
        return 1;
    }
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, backlog)) { perror("listener: bind/listen"); return 1; }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.fd = tfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
    double mean = accept_rate > 0 ? workers / accept_rate : 0;
    double busy[MAXW] = {0}; /* each worker's busy-until time */
    int watching = 1;        /* ls in the epoll set with EPOLLIN */
    printf("listener ready port=%d backlog=%d\n", port, backlog);
    fflush(stdout);
    long accepted = 0, closed = 0, from_peer = 0;
    double end = now_s() + duration;
    struct epoll_event evs[256];
    char buf[4096];
    while (!stop) {
        double now = now_s();
        if (now >= end) break;
        /* Free workers accept, oldest connection first. */
        int free_w = 0;
        double next_free = end;
        for (int w = 0; w < workers; w++) {
            if (accept_rate <= 0 || busy[w] <= now) {
                struct sockaddr_in from;
                socklen_t fl = sizeof from;
                int c = accept4(ls, (struct sockaddr *)&from, &fl, SOCK_NONBLOCK);
                if (c < 0) { free_w++; continue; }
                accepted++;
                from_peer += from.sin_addr.s_addr == peer.s_addr;
                if (log_f) fprintf(log_f, "%.6f\n", now_s());
                struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                if (accept_rate <= 0) { w--; continue; } /* accepts at once: drain the queue */
                busy[w] = now + (exponential ? -log(next_unit()) * mean : mean);
            }
            if (busy[w] < next_free) next_free = busy[w];
        }
        /* Watch the listening socket only while some worker waits in accept(). */
        int want = free_w > 0;
        if (want != watching) {
            struct epoll_event le = {.events = want ? EPOLLIN : 0, .data.fd = ls};
            epoll_ctl(ep, EPOLL_CTL_MOD, ls, &le);
            watching = want;
        }
        if (!want) arm(tfd, next_free);
        double left = end - now_s();
        int n = epoll_wait(ep, evs, 256, left > 0.1 ? 100 : (int)(left * 1000) + 1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) continue; /* accepted at the top of the loop */
            if (fd == tfd) {
                uint64_t x;
                if (read(tfd, &x, sizeof x)) {}
                continue;
            }
            ssize_t r;
            while ((r = read(fd, buf, sizeof buf)) > 0) {}
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                close(fd);
                closed++;
            }
        }
    }
    if (log_f) fclose(log_f);
    printf("listener accepted=%ld closed=%ld from_peer=%ld\n", accepted, closed, from_peer);
    return 0;
}
