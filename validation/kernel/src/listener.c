/* listener: a plain TCP listener for the kernel check.
 *
 *   listener --port 8080 --backlog 128 [--accept-rate R] [--duration S] [--defer-accept S]
 *
 * listen(backlog); accepts at once (--accept-rate 0, the default) or at
 * most R per second, evenly spaced; each accepted connection is read until
 * EOF (or error) and closed. Exits after --duration seconds or on
 * SIGINT/SIGTERM, printing accepted/closed counts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int port = 8080, backlog = 128;
    double accept_rate = 0, duration = 60;
    int defer_accept = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--backlog")) backlog = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--accept-rate")) accept_rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--duration")) duration = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--defer-accept")) defer_accept = atoi(argv[i + 1]);
        else { fprintf(stderr, "listener: unknown option %s\n", argv[i]); return 2; }
    }
    if (argc % 2 == 0 || duration <= 0 || duration > 3600) { fprintf(stderr, "listener: bad arguments\n"); return 2; }
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
    int tfd = -1;
    if (accept_rate > 0) {
        /* Paced: a periodic timer; each tick accepts at most one. */
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
        double p = 1.0 / accept_rate;
        struct itimerspec its = {.it_interval = {(time_t)p, (long)((p - (time_t)p) * 1e9)}};
        its.it_value = its.it_interval;
        timerfd_settime(tfd, 0, &its, NULL);
        ev.data.fd = tfd;
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    } else {
        epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    }
    printf("listener ready port=%d backlog=%d\n", port, backlog);
    fflush(stdout);
    long accepted = 0, closed = 0;
    double end = now_s() + duration;
    struct epoll_event evs[256];
    char buf[4096];
    while (!stop) {
        double left = end - now_s();
        if (left <= 0) break;
        int n = epoll_wait(ep, evs, 256, left > 0.1 ? 100 : (int)(left * 1000) + 1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls || fd == tfd) {
                int budget = 1 << 20;
                if (fd == tfd) {
                    unsigned long long ticks = 0;
                    if (read(tfd, &ticks, sizeof ticks) != sizeof ticks) continue;
                    budget = 1; /* missed ticks are not made up */
                }
                while (budget-- > 0) {
                    int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0) break;
                    accepted++;
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
            } else {
                ssize_t r;
                while ((r = read(fd, buf, sizeof buf)) > 0) {}
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    close(fd);
                    closed++;
                }
            }
        }
    }
    printf("listener accepted=%ld closed=%ld\n", accepted, closed);
    return 0;
}
