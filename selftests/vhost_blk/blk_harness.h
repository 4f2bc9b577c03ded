/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device-model and guest-driver side of the vhost-blk selftests and benchmark: the
 * split-ring driver of ../vhost_net/vring_driver.h (rings and buffers in this process's
 * memory), the vhost-blk setup, virtio-blk requests, and the backends (a file on tmpfs,
 * /dev/ram0 from brd.ko).
 */
#ifndef BLK_HARNESS_H
#define BLK_HARNESS_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/vhost_blk.h>

#include "../vhost_net/vring_driver.h"

#define BLK_DEV		"/dev/vhost-blk"
#define BLK_MODULE	"vhost_blk_rs"
#define QUEUE_AREA	(64UL << 10)	/* queue i's rings at i * 64 KiB: up to 16 in 1 MiB */
#define DISK_SIZE	(16UL << 20)
#define RAM_KB		16384		/* brd rd_size: DISK_SIZE */

/* Loads brd with one 16 MiB ramdisk (if it is not loaded) and opens /dev/ram0. */
static inline int ramdisk_open(int flags)
{
	if (access("/dev/ram0", F_OK) &&
	    system("modprobe brd rd_nr=1 rd_size=" "16384" " max_part=0"))
		return -1;
	return open("/dev/ram0", flags | O_CLOEXEC);
}

/* A fresh DISK_SIZE file on tmpfs (/tmp), opened with @flags. */
static inline int tmpfile_open(const char *path, int flags)
{
	int fd;

	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, DISK_SIZE))
		return -1;
	if ((flags & O_ACCMODE) == O_RDWR)
		return fd;
	close(fd);
	return open(path, flags | O_CLOEXEC);
}

/* Page-aligned guest buffers (direct I/O wants 512-byte aligned ones). */
static inline void *guest_alloc_aligned(struct guest *g, size_t len)
{
	g->next = (g->next + 4095) & ~4095UL;
	return guest_alloc(g, len);
}

static inline int blk_mem_table(int fd, struct guest *g)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} t = {
		.m = { .nregions = 1 },
		.r = { .guest_phys_addr = GUEST_BASE, .memory_size = GUEST_SIZE,
		       .userspace_addr = (uintptr_t)g->mem },
	};

	return ioctl(fd, VHOST_SET_MEM_TABLE, &t);
}

/* Sets queue @index up from @q (size, base @base, addresses, eventfds). */
static inline int blk_vring_setup(int fd, int index, struct dvq *q, unsigned int base)
{
	struct vhost_vring_state num = { .index = index, .num = q->num };
	struct vhost_vring_state st = { .index = index, .num = base };
	struct vhost_vring_addr addr = {
		.index = index,
		.desc_user_addr = (uintptr_t)q->desc,
		.avail_user_addr = (uintptr_t)q->avail,
		.used_user_addr = (uintptr_t)q->used,
	};
	struct vhost_vring_file kick = { .index = index, .fd = q->kick };
	struct vhost_vring_file call = { .index = index, .fd = q->call };
	struct vhost_vring_file err = { .index = index, .fd = q->err };

	if (ioctl(fd, VHOST_SET_VRING_NUM, &num) || ioctl(fd, VHOST_SET_VRING_BASE, &st) ||
	    ioctl(fd, VHOST_SET_VRING_ADDR, &addr) || ioctl(fd, VHOST_SET_VRING_KICK, &kick) ||
	    ioctl(fd, VHOST_SET_VRING_CALL, &call) || ioctl(fd, VHOST_SET_VRING_ERR, &err))
		return -1;
	return 0;
}

static inline int blk_set_backend(int fd, int backend)
{
	struct vhost_vring_file f = { .index = 0, .fd = backend };

	return ioctl(fd, VHOST_BLK_SET_BACKEND, &f);
}

/* A request's header and status byte, in guest memory. */
struct blk_req {
	struct virtio_blk_outhdr hdr;
	uint8_t status;
};

/*
 * Queues one request: header, @n data segments of @data (@len bytes, split evenly on
 * 512-byte boundaries; device-writable for IN and GET_ID), status. Layout 0: one
 * descriptor each; 1: header and data of OUT in one descriptor, data and status of IN in
 * one (@n ignored); 2: as 0 through an indirect table. Returns the head.
 */
static inline int blk_add(struct dvq *q, struct guest *g, struct blk_req *r, uint32_t type,
			  uint64_t sector, uint8_t *data, uint32_t len, int n, int layout)
{
	int in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct seg s[66];
	int k = 0;

	r->hdr.type = type;
	r->hdr.ioprio = 0;
	r->hdr.sector = sector;
	r->status = 0xff;
	if (layout == 1 && len) {
		/* The header right before the data: data - 16 must be ours (see blk_data). */
		struct virtio_blk_outhdr *h = (void *)(data - sizeof(*h));

		*h = r->hdr;
		if (in) {
			s[k++] = (struct seg){ gpa_of(g, h), sizeof(*h), 0 };
			/* The status byte right after the data. */
			s[k++] = (struct seg){ gpa_of(g, data), len + 1, 1 };
		} else {
			s[k++] = (struct seg){ gpa_of(g, h), sizeof(*h) + len, 0 };
			s[k++] = (struct seg){ gpa_of(g, &r->status), 1, 1 };
		}
		return dvq_add(q, g, s, k, 0);
	}
	s[k++] = (struct seg){ gpa_of(g, &r->hdr), sizeof(r->hdr), 0 };
	if (len) {
		uint32_t sectors = len / 512, off = 0;

		if (n < 1)
			n = 1;
		if (n > 64)
			n = 64;
		if ((uint32_t)n > sectors && sectors)
			n = sectors;
		for (int i = 0; i < n; i++) {
			uint32_t part = sectors ? (sectors / n + (i < (int)(sectors % n))) * 512 : len;

			if (i == n - 1)
				part = len - off;
			s[k++] = (struct seg){ gpa_of(g, data + off), part, in };
			off += part;
		}
	}
	s[k++] = (struct seg){ gpa_of(g, &r->status), 1, 1 };
	return dvq_add(q, g, s, k, layout == 2);
}

/*
 * Guest memory for @len bytes of data with room for layout 1: 16 bytes before (the header)
 * and one after (the status byte); page-aligned data.
 */
static inline uint8_t *blk_data(struct guest *g, uint32_t len)
{
	uint8_t *p = guest_alloc_aligned(g, len + 4096 + 1);

	return p ? p + 4096 : NULL;
}

/* The status of a layout-1 IN request: the byte after its data. */
static inline uint8_t blk_status(struct blk_req *r, uint8_t *data, uint32_t len, uint32_t type,
				 int layout)
{
	if (layout == 1 && len && (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID))
		return data[len];
	return r->status;
}

/* FNV-1a over @len bytes. */
static inline uint64_t fnv(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static inline void fill(uint8_t *p, size_t len, unsigned int seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = x >> 16;
	}
}

#endif
