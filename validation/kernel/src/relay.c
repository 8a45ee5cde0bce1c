/* relay: a two-port Ethernet bridge that delays every frame (netem's delay,
 * for a kernel built without CONFIG_NET_SCH_NETEM).
 *
 *   relay --a IFACE --b IFACE --mode constant|normal|fifo --mean MS [--std MS]
 *         [--duration S] [--count N] [--seed N]
 *
 * Reads every frame arriving on --a or --b (AF_PACKET raw sockets, promiscuous)
 * and sends it out of the other port after a delay:
 *   constant  every frame --mean;
 *   normal    an independent draw of normal(--mean, --std) per frame,
 *             truncated at zero by redrawing: frames of one flow may overtake
 *             each other;
 *   fifo      the same draws, but a frame leaves no earlier than the previous
 *             frame of its flow (IPv4 4-tuple and direction) did.
 * TCP checksums are recomputed before sending: a veth hands a raw socket the
 * frame with its checksum still to be filled in (CHECKSUM_PARTIAL).
 * Exits after --duration seconds, after --count frames, or on SIGINT/SIGTERM,
 * and prints one line of counts per direction (a->b, b->a): frames, TCP
 * segments by kind (a SYN, a SYN-ACK, a segment with FIN, RST, a bare ACK with
 * no payload, data), frames that overtook an earlier frame of their flow,
 * and frames dropped because too many were in flight.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <math.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 8192     /* frames in flight at most */
#define FRAME 2048     /* bytes kept of a frame (the veths' MTU is 1500) */
#define FLOWS 65536    /* FIFO table: one entry per hashed flow and direction */

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
static double std_normal(void) {  /* Box-Muller; one draw per call keeps it simple */
    return sqrt(-2.0 * log(next_unit())) * cos(2.0 * M_PI * next_unit());
}
static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

struct frame { int64_t due; uint64_t order; int out; int len; unsigned char data[FRAME]; };
static struct frame *pool;
static int heap[SLOTS], nheap, freelist[SLOTS], nfree;

static int before(int a, int b) {
    return pool[a].due < pool[b].due || (pool[a].due == pool[b].due && pool[a].order < pool[b].order);
}
static void heap_push(int f) {
    int i = nheap++;
    heap[i] = f;
    while (i > 0 && before(heap[i], heap[(i - 1) / 2])) {
        int p = (i - 1) / 2, t = heap[i];
        heap[i] = heap[p]; heap[p] = t; i = p;
    }
}
static int heap_pop(void) {
    int top = heap[0], i = 0;
    heap[0] = heap[--nheap];
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < nheap && before(heap[l], heap[m])) m = l;
        if (r < nheap && before(heap[r], heap[m])) m = r;
        if (m == i) break;
        int t = heap[i]; heap[i] = heap[m]; heap[m] = t; i = m;
    }
    return top;
}

struct flow { uint64_t key; int64_t last_due; };
static struct flow flows[2][FLOWS];

struct counts { long frames, syn, synack, fin, rst, ack, data, overtook, dropped; };
static struct counts cnt[2];

static uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}
static uint32_t add_bytes(uint32_t sum, const unsigned char *p, int n) {
    for (int i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += (uint32_t)(p[n - 1] << 8);
    return sum;
}

/* Parses an IPv4 TCP frame: counts its kind, fixes its checksum, returns its
 * flow key (0 for anything else). */
static uint64_t inspect(unsigned char *f, int len, struct counts *c) {
    if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00) return 0;
    struct iphdr *ip = (struct iphdr *)(f + 14);
    int ihl = ip->ihl * 4, tot = ntohs(ip->tot_len);
    if (ip->protocol != IPPROTO_TCP || ihl < 20 || tot > len - 14 || tot < ihl + 20) return 0;
    struct tcphdr *th = (struct tcphdr *)(f + 14 + ihl);
    int thl = th->doff * 4, tcplen = tot - ihl, payload = tcplen - thl;
    if (thl < 20 || payload < 0) return 0;
    if (th->syn) { if (th->ack) c->synack++; else c->syn++; }
    else if (th->rst) c->rst++;
    else if (th->fin) c->fin++;
    else if (payload == 0) c->ack++;
    else c->data++;
    th->check = 0;
    uint32_t sum = add_bytes(0, (unsigned char *)&ip->saddr, 8);
    sum += IPPROTO_TCP + (uint32_t)tcplen;
    th->check = htons(fold(add_bytes(sum, (unsigned char *)th, tcplen)));
    return ((uint64_t)ntohl(ip->saddr) << 32 ^ (uint64_t)ntohl(ip->daddr) << 16) ^
           ((uint64_t)ntohs(th->source) << 16 | ntohs(th->dest)) ^ 1;
}

static int open_port(const char *name, int *ifindex) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (fd < 0) { perror("relay: socket"); exit(1); }
    *ifindex = (int)if_nametoindex(name);
    if (!*ifindex) { fprintf(stderr, "relay: no interface %s\n", name); exit(1); }
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = *ifindex};
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("relay: bind"); exit(1); }
    struct packet_mreq mr = {.mr_ifindex = *ifindex, .mr_type = PACKET_MR_PROMISC};
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) { perror("relay: promisc"); exit(1); }
    int one = 1;  /* not the frames this relay sends out of the port */
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
        perror("relay: PACKET_IGNORE_OUTGOING"); exit(1);
    }
    return fd;
}

int main(int argc, char **argv) {
    const char *a = NULL, *b = NULL, *mode = "constant";
    double mean_ms = 10, std_ms = 0, duration = 60;
    long count = 10000000;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--a")) a = v;
        else if (!strcmp(k, "--b")) b = v;
        else if (!strcmp(k, "--mode")) mode = v;
        else if (!strcmp(k, "--mean")) mean_ms = atof(v);
        else if (!strcmp(k, "--std")) std_ms = atof(v);
        else if (!strcmp(k, "--duration")) duration = atof(v);
        else if (!strcmp(k, "--count")) count = atol(v);
        else if (!strcmp(k, "--seed")) seed = strtoull(v, NULL, 10);
        else { fprintf(stderr, "relay: unknown option %s\n", k); return 2; }
    }
    int constant = !strcmp(mode, "constant"), fifo = !strcmp(mode, "fifo");
    if (argc % 2 == 0 || !a || !b || !(constant || fifo || !strcmp(mode, "normal")) || mean_ms < 0 ||
        mean_ms > 10000 || std_ms < 0 || std_ms > 10000 || duration <= 0 || duration > 3600 || count < 1) {
        fprintf(stderr, "relay: bad arguments\n");
        return 2;
    }
    rng = seed * 0x9E3779B97F4A7C15ULL + 4242;
    prctl(PR_SET_TIMERSLACK, 1UL);  /* wake at the due time, not 50 us later */
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    pool = calloc(SLOTS, sizeof *pool);
    for (int i = 0; i < SLOTS; i++) freelist[nfree++] = SLOTS - 1 - i;
    int idx[2], fd[2] = {open_port(a, &idx[0]), open_port(b, &idx[1])};
    int64_t end = now_ns() + (int64_t)(duration * 1e9), mean = (int64_t)(mean_ms * 1e6);
    double std = std_ms * 1e6;
    uint64_t order = 0;
    long forwarded = 0;
    printf("ready\n");
    fflush(stdout);
    while (!stop && forwarded < count) {
        int64_t now = now_ns();
        if (now >= end) break;
        while (nheap && pool[heap[0]].due <= now) {
            struct frame *f = &pool[heap[0]];
            struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = idx[f->out], .sll_halen = ETH_ALEN};
            memcpy(to.sll_addr, f->data, ETH_ALEN);
            if (sendto(fd[f->out], f->data, f->len, 0, (struct sockaddr *)&to, sizeof to) < 0 && errno != ENOBUFS)
                perror("relay: sendto");
            freelist[nfree++] = heap_pop();
            forwarded++;
        }
        int64_t wait = nheap ? pool[heap[0]].due - now : end - now;
        if (wait > end - now) wait = end - now;
        struct timespec ts = {.tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL};
        struct pollfd p[2] = {{.fd = fd[0], .events = POLLIN}, {.fd = fd[1], .events = POLLIN}};
        if (ppoll(p, 2, &ts, NULL) <= 0) continue;
        for (int side = 0; side < 2; side++) {
            if (!(p[side].revents & POLLIN)) continue;
            for (int burst = 0; burst < 64; burst++) {
                unsigned char buf[FRAME];
                ssize_t n = recv(fd[side], buf, sizeof buf, MSG_TRUNC);
                if (n < 0) break;
                struct counts *c = &cnt[side];
                c->frames++;
                if (n > FRAME || !nfree) { c->dropped++; continue; }
                int64_t at = now_ns();
                int64_t delay = mean;
                if (!constant) {
                    double x;
                    int tries = 0;
                    do x = mean + std * std_normal(); while (x < 0 && ++tries < 64);
                    delay = x < 0 ? 0 : (int64_t)llround(x);
                }
                int slot = freelist[--nfree];
                struct frame *f = &pool[slot];
                memcpy(f->data, buf, (size_t)n);
                f->len = (int)n;
                f->out = 1 - side;
                f->order = order++;
                f->due = at + delay;
                uint64_t key = inspect(f->data, f->len, c);
                if (key) {
                    struct flow *fl = &flows[side][(key * 0x9E3779B97F4A7C15ULL) >> 48];
                    if (fl->key == key) {
                        if (fifo && f->due < fl->last_due) f->due = fl->last_due;
                        if (f->due < fl->last_due) c->overtook++;
                        else fl->last_due = f->due;
                    } else {
                        fl->key = key;  /* a new flow, or a collision: the older one loses its entry */
                        fl->last_due = f->due;
                    }
                }
                heap_push(slot);
            }
        }
    }
    for (int side = 0; side < 2; side++) {
        struct counts *c = &cnt[side];
        printf("%s frames=%ld syn=%ld synack=%ld fin=%ld rst=%ld ack=%ld data=%ld overtook=%ld dropped=%ld\n",
               side ? "b->a" : "a->b", c->frames, c->syn, c->synack, c->fin, c->rst, c->ack, c->data, c->overtook,
               c->dropped);
    }
    printf("forwarded=%ld in_flight=%d\n", forwarded, nheap);
    return 0;
}
