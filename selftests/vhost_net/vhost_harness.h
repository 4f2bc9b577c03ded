/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device-model side of the vhost-net selftests and benchmark: memory table, ring setup,
 * backends, and a tap interface (IPv6 off, 12-byte vnet header) watched through AF_PACKET.
 */
#ifndef VHOST_HARNESS_H
#define VHOST_HARNESS_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <sys/socket.h>

#include "vring_driver.h"

#define ETHERTYPE_TEST	0x88B5	/* IEEE local experimental: the stack ignores it */
#define HDR_LEN		12	/* virtio_net_hdr_mrg_rxbuf / virtio 1.0 header */
#define VQ_RX		0
#define VQ_TX		1
#define RING		64

static inline int vhost_mem_table(int fd, struct guest *g, uint64_t base, uint64_t size)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} t = {
		.m = { .nregions = 1 },
		.r = { .guest_phys_addr = base, .memory_size = size,
		       .userspace_addr = (uintptr_t)g->mem },
	};

	return ioctl(fd, VHOST_SET_MEM_TABLE, &t);
}

static inline int vring_setup(int fd, int index, struct dvq *q)
{
	struct vhost_vring_state num = { .index = index, .num = q->num };
	struct vhost_vring_state base = { .index = index, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = index,
		.desc_user_addr = (uintptr_t)q->desc,
		.avail_user_addr = (uintptr_t)q->avail,
		.used_user_addr = (uintptr_t)q->used,
	};
	struct vhost_vring_file kick = { .index = index, .fd = q->kick };
	struct vhost_vring_file call = { .index = index, .fd = q->call };
	struct vhost_vring_file err = { .index = index, .fd = q->err };

	if (ioctl(fd, VHOST_SET_VRING_NUM, &num) || ioctl(fd, VHOST_SET_VRING_BASE, &base) ||
	    ioctl(fd, VHOST_SET_VRING_ADDR, &addr) || ioctl(fd, VHOST_SET_VRING_KICK, &kick) ||
	    ioctl(fd, VHOST_SET_VRING_CALL, &call) || ioctl(fd, VHOST_SET_VRING_ERR, &err))
		return -1;
	return 0;
}

static inline int set_backend(int fd, int index, int backend)
{
	struct vhost_vring_file f = { .index = index, .fd = backend };

	return ioctl(fd, VHOST_NET_SET_BACKEND, &f);
}

/* A tap interface, up, with a 12-byte vnet header; and an AF_PACKET socket on it. */
struct tap {
	int fd;
	int ifindex;
	int pkt;
	char name[IFNAMSIZ];
};

static inline int tap_open(struct tap *t)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr = HDR_LEN, s;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };

	/* No IPv6 on new interfaces: its neighbour discovery would send frames of its own. */
	s = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC);
	if (s >= 0) {
		if (write(s, "1", 1) != 1)
			return -1;
		close(s);
	}
	strcpy(ifr.ifr_name, "vhtest%d");
	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (t->fd < 0 || ioctl(t->fd, TUNSETIFF, &ifr) || ioctl(t->fd, TUNSETVNETHDRSZ, &hdr))
		return -1;
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFINDEX, &ifr))
		return -1;
	t->ifindex = ifr.ifr_ifindex;
	ifr.ifr_flags = IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		return -1;
	close(s);
	t->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	sll.sll_ifindex = t->ifindex;
	if (t->pkt < 0 || bind(t->pkt, (struct sockaddr *)&sll, sizeof(sll)))
		return -1;
	return 0;
}

static inline void tap_close(struct tap *t)
{
	close(t->pkt);
	close(t->fd);
}

/* A test frame: broadcast, our ethertype, a payload derived from @seed. */
static inline void make_frame(uint8_t *f, size_t len, unsigned int seed)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = ETHERTYPE_TEST >> 8;
	f[13] = ETHERTYPE_TEST & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seed * 31 + i * 7);
}

/* Receives the next test frame arriving on the tap interface (from vhost's TX). */
static inline ssize_t capture(struct tap *t, uint8_t *buf, size_t len, int ms)
{
	for (;;) {
		struct pollfd p = { .fd = t->pkt, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(&p, 1, ms) != 1)
			return -1;
		n = recvfrom(t->pkt, buf, len, 0, (struct sockaddr *)&from, &fl);
		if (n < 14)
			return -1;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (buf[12] == (ETHERTYPE_TEST >> 8) && buf[13] == (ETHERTYPE_TEST & 0xff))
			return n;
	}
}

/* Sends a frame out of the tap interface: it reaches vhost's RX. */
static inline int inject(struct tap *t, const uint8_t *f, size_t len)
{
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_ifindex = t->ifindex,
		.sll_halen = 6,
	};

	memset(to.sll_addr, 0xff, 6);
	return sendto(t->pkt, f, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len ? 0 : -1;
}

#endif
