// SPDX-License-Identifier: GPL-2.0
/*
 * kprof: a small sampling profiler for the test guest, which has no perf tool. Runs a
 * command and samples every CPU with the software cpu-clock event (no PMU needed, so it
 * works under QEMU/TCG) while the command runs, then prints where the time went: kernel
 * per thread (command names), then each busy thread's kernel symbols (from /proc/kallsyms,
 * modules included; user space as one line).
 *
 *   kprof [-f HZ] [-n LINES] -- command [args]
 *
 * Output lines start with "# kprof:" so that they pass through the bench and test logs as
 * comments. Needs root (system-wide sampling) and kernel.perf_event_paranoid <= 0 or root.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CPUS	64
#define RING_PAGES	64	/* data pages per CPU, a power of two */
#define MAX_SAMPLES	(1 << 21)

struct sample {
	uint64_t ip;
	uint32_t pid;
};

struct sym {
	uint64_t addr;
	char name[200];
};

static struct sample *samples;
static long nsamples, lost;
static long page;

struct cpu_ring {
	int fd;
	struct perf_event_mmap_page *meta;
	uint8_t *data;
	uint64_t size;
};

static struct cpu_ring rings[MAX_CPUS];

/* Command names by pid, looked up while the tasks live. */
#define COMMS 4096
static struct {
	uint32_t pid;
	char comm[20];
} comms[COMMS];

static const char *comm_of(uint32_t pid)
{
	typeof(comms[0]) *c = &comms[pid % COMMS];
	char path[64];
	FILE *f;

	if (c->pid == pid && c->comm[0])
		return c->comm;
	c->pid = pid;
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "r");
	if (!f || !fgets(c->comm, sizeof(c->comm), f))
		snprintf(c->comm, sizeof(c->comm), "pid %u", pid);
	else
		c->comm[strcspn(c->comm, "\n")] = 0;
	if (f)
		fclose(f);
	return c->comm;
}
static int ncpus;

static int open_cpu(int cpu, int hz)
{
	struct perf_event_attr a = { 0 };
	struct cpu_ring *r = &rings[cpu];
	void *m;

	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.freq = 1;
	a.sample_freq = hz;
	a.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID;
	a.wakeup_events = 64;
	r->fd = syscall(__NR_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (r->fd < 0)
		return -1;
	m = mmap(NULL, (RING_PAGES + 1) * page, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (m == MAP_FAILED)
		return -1;
	r->meta = m;
	r->data = (uint8_t *)m + page;
	r->size = RING_PAGES * page;
	return 0;
}

/* Moves the records of one CPU's ring into samples[]. */
static void drain(struct cpu_ring *r)
{
	uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->meta->data_tail;

	while (tail < head) {
		struct perf_event_header h;
		uint8_t rec[256];
		uint64_t off = tail % r->size;

		for (size_t i = 0; i < sizeof(h); i++)
			((uint8_t *)&h)[i] = r->data[(off + i) % r->size];
		if (h.size < sizeof(h) || h.size > sizeof(rec))
			break;
		for (size_t i = 0; i < h.size; i++)
			rec[i] = r->data[(off + i) % r->size];
		if (h.type == PERF_RECORD_SAMPLE && nsamples < MAX_SAMPLES) {
			struct sample *s = &samples[nsamples++];

			memcpy(&s->ip, rec + sizeof(h), 8);
			memcpy(&s->pid, rec + sizeof(h) + 8 + 4, 4);	/* the tid, after the pid */
			comm_of(s->pid);
		} else if (h.type == PERF_RECORD_LOST) {
			uint64_t n;

			memcpy(&n, rec + sizeof(h) + 8, 8);
			lost += n;
		}
		tail += h.size;
	}
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
}

static struct sym *syms;
static long nsyms;

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

static void load_kallsyms(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[256];
	long cap = 0;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[128], mod[64] = "";

		if (sscanf(line, "%llx %c %127s [%63[^]]]", &addr, &type, name, mod) < 3)
			continue;
		if (type != 't' && type != 'T')
			continue;
		if (nsyms == cap) {
			cap = cap ? cap * 2 : 65536;
			syms = realloc(syms, cap * sizeof(*syms));
			if (!syms)
				exit(1);
		}
		syms[nsyms].addr = addr;
		if (mod[0])
			snprintf(syms[nsyms].name, sizeof(syms[nsyms].name), "%s [%s]", name, mod);
		else
			snprintf(syms[nsyms].name, sizeof(syms[nsyms].name), "%s", name);
		nsyms++;
	}
	if (f)
		fclose(f);
	qsort(syms, nsyms, sizeof(*syms), sym_cmp);
}

static const char *kernel_sym(uint64_t ip)
{
	long lo = 0, hi = nsyms - 1, best = -1;

	while (lo <= hi) {
		long mid = (lo + hi) / 2;

		if (syms[mid].addr <= ip) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best < 0 || !syms[best].addr ? "[kernel, unknown]" : syms[best].name;
}

/* Histogram of names: a small open-addressing table. */
#define SLOTS 8192
static struct {
	char name[240];
	long n;
} hist[SLOTS];

static void count(const char *name)
{
	unsigned int h = 5381;

	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	for (unsigned int i = 0; i < SLOTS; i++) {
		unsigned int k = (h + i) % SLOTS;

		if (!hist[k].n) {
			snprintf(hist[k].name, sizeof(hist[k].name), "%s", name);
			hist[k].n = 1;
			return;
		}
		if (!strcmp(hist[k].name, name)) {
			hist[k].n++;
			return;
		}
	}
}

static int hist_cmp(const void *a, const void *b)
{
	long x = ((const typeof(hist[0]) *)a)->n, y = ((const typeof(hist[0]) *)b)->n;

	return (y > x) - (y < x);
}

int main(int argc, char **argv)
{
	int hz = 2000, lines = 40, opt, status = 0;
	pid_t child;
	struct pollfd pfd[MAX_CPUS];

	while ((opt = getopt(argc, argv, "f:n:")) != -1) {
		if (opt == 'f')
			hz = atoi(optarg);
		else if (opt == 'n')
			lines = atoi(optarg);
		else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: kprof [-f HZ] [-n LINES] -- command [args]\n");
		return 2;
	}
	page = sysconf(_SC_PAGESIZE);
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus > MAX_CPUS)
		ncpus = MAX_CPUS;
	samples = calloc(MAX_SAMPLES, sizeof(*samples));
	if (!samples)
		return 1;
	for (int c = 0; c < ncpus; c++) {
		if (open_cpu(c, hz)) {
			perror("kprof: perf_event_open");
			return 1;
		}
		pfd[c] = (struct pollfd){ .fd = rings[c].fd, .events = POLLIN };
	}
	child = fork();
	if (child == 0) {
		execvp(argv[optind], argv + optind);
		perror("kprof: exec");
		_exit(127);
	}
	for (;;) {
		pid_t w = waitpid(child, &status, WNOHANG);

		poll(pfd, ncpus, 100);
		for (int c = 0; c < ncpus; c++)
			drain(&rings[c]);
		if (w == child)
			break;
	}
	for (int c = 0; c < ncpus; c++)
		ioctl(rings[c].fd, PERF_EVENT_IOC_DISABLE, 0);

	load_kallsyms();
	for (long i = 0; i < nsamples; i++) {
		const char *task = samples[i].pid ? comm_of(samples[i].pid) : "idle";
		char name[240];

		snprintf(name, sizeof(name), "%s", task);
		count(name);
		if (samples[i].ip >= 0xffff800000000000ull)
			snprintf(name, sizeof(name), "%s: %s", task, kernel_sym(samples[i].ip));
		else
			snprintf(name, sizeof(name), "%s: [user]", task);
		count(name);
	}
	qsort(hist, SLOTS, sizeof(hist[0]), hist_cmp);
	printf("# kprof: %ld samples on %d CPUs at %d Hz, %ld lost; by thread (from 0.5%%), then "
	       "the top %d symbols of each thread from 1%%\n", nsamples, ncpus, hz, lost, lines);
	for (int i = 0; i < SLOTS && hist[i].n; i++)
		if (!strchr(hist[i].name, ':') && hist[i].n * 200 >= nsamples)
			printf("# kprof: %6.2f%% %7ld  %s\n",
			       100.0 * hist[i].n / (nsamples ? nsamples : 1), hist[i].n, hist[i].name);
	for (int t = 0; t < SLOTS && hist[t].n; t++) {
		size_t len = strlen(hist[t].name);
		int shown = 0;

		if (strchr(hist[t].name, ':') || !strcmp(hist[t].name, "idle") ||
		    hist[t].n * 100 < nsamples)
			continue;
		for (int i = 0; i < SLOTS && hist[i].n && shown < lines; i++) {
			if (strncmp(hist[i].name, hist[t].name, len) || hist[i].name[len] != ':')
				continue;
			printf("# kprof: %6.2f%% of %s  %s\n", 100.0 * hist[i].n / hist[t].n,
			       hist[t].name, hist[i].name + len + 2);
			shown++;
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
