/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest driver side of a split virtqueue, for driving a vhost device from userspace:
 * "guest memory" is a mapping of this process at guest-physical GUEST_BASE, the rings and
 * buffers live in it, and the device is told about it with VHOST_SET_MEM_TABLE.
 */
#ifndef VRING_DRIVER_H
#define VRING_DRIVER_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/virtio_ring.h>

#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(8UL << 20)
#define RING_AREA	(1UL << 20)	/* rings in the first MiB, buffers after */

struct guest {
	uint8_t *mem;
	size_t next;	/* bump allocator for buffers */
};

static inline uint64_t gpa_of(struct guest *g, const void *p)
{
	return GUEST_BASE + ((const uint8_t *)p - g->mem);
}

static inline void *hva_of(struct guest *g, uint64_t gpa)
{
	return g->mem + (gpa - GUEST_BASE);
}

static inline int guest_init(struct guest *g)
{
	g->mem = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g->next = RING_AREA;
	return g->mem == MAP_FAILED ? -1 : 0;
}

static inline void *guest_alloc(struct guest *g, size_t len)
{
	void *p = g->mem + g->next;

	g->next = (g->next + len + 63) & ~63UL;
	return g->next <= GUEST_SIZE ? p : NULL;
}

struct dvq {
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;	/* next avail index to publish */
	uint16_t last_used;	/* next used index to consume */
	uint16_t next_desc;	/* descriptors are handed out round robin */
	int kick, call, err;
};

/* Lays out a ring of @num entries at @area (inside guest memory). */
static inline void dvq_init(struct dvq *q, void *area, unsigned int num)
{
	uint8_t *p = area;

	memset(q, 0, sizeof(*q));
	q->num = num;
	q->desc = (void *)p;
	q->avail = (void *)(p + 16 * num);
	q->used = (void *)(((uintptr_t)q->avail + 6 + 2 * num + 4095) & ~4095UL);
	memset(p, 0, (uint8_t *)q->used - p + 6 + 8 * num + 2);
	q->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static inline void dvq_close(struct dvq *q)
{
	close(q->kick);
	close(q->call);
	close(q->err);
}

/* used_event (in the avail ring) and avail_event (in the used ring), for EVENT_IDX. */
static inline volatile uint16_t *dvq_used_event(struct dvq *q)
{
	return &q->avail->ring[q->num];
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	int write;
};

/* Publishes a chain of @n segments (indirect if @indirect); returns its head. */
static inline int dvq_add(struct dvq *q, struct guest *g, const struct seg *s, int n, int indirect)
{
	uint16_t head = q->next_desc;

	if (indirect) {
		struct vring_desc *t = guest_alloc(g, 16 * n);

		for (int i = 0; i < n; i++) {
			t[i].addr = s[i].gpa;
			t[i].len = s[i].len;
			t[i].flags = (s[i].write ? VRING_DESC_F_WRITE : 0) |
				     (i + 1 < n ? VRING_DESC_F_NEXT : 0);
			t[i].next = i + 1 < n ? i + 1 : 0;
		}
		q->desc[head].addr = gpa_of(g, t);
		q->desc[head].len = 16 * n;
		q->desc[head].flags = VRING_DESC_F_INDIRECT;
		q->desc[head].next = 0;
		q->next_desc = (head + 1) % q->num;
	} else {
		for (int i = 0; i < n; i++) {
			uint16_t d = (head + i) % q->num;

			q->desc[d].addr = s[i].gpa;
			q->desc[d].len = s[i].len;
			q->desc[d].flags = (s[i].write ? VRING_DESC_F_WRITE : 0) |
					   (i + 1 < n ? VRING_DESC_F_NEXT : 0);
			q->desc[d].next = (d + 1) % q->num;
		}
		q->next_desc = (head + n) % q->num;
	}
	q->avail->ring[q->avail_idx % q->num] = head;
	__atomic_store_n(&q->avail->idx, ++q->avail_idx, __ATOMIC_RELEASE);
	return head;
}

static inline int dvq_kick(struct dvq *q)
{
	uint64_t one = 1;

	return write(q->kick, &one, 8) == 8 ? 0 : -1;
}

/* Waits up to @ms for a used entry; returns 1 and fills @id/@len, or 0. */
static inline int dvq_get_used(struct dvq *q, int ms, uint32_t *id, uint32_t *len)
{
	for (int waited = 0;; waited++) {
		uint16_t idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);

		if (idx != q->last_used) {
			struct vring_used_elem *e = &q->used->ring[q->last_used % q->num];

			*id = e->id;
			*len = e->len;
			q->last_used++;
			return 1;
		}
		if (waited >= ms)
			return 0;
		usleep(1000);
	}
}

/* Reads an eventfd's count without blocking (0 if not signalled). */
static inline uint64_t efd_count(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, ms) == 1 && read(efd, &v, 8) != 8)
		v = 0;
	return v;
}

#endif
