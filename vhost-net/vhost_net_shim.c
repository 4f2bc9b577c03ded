// SPDX-License-Identifier: GPL-2.0
/*
 * C part of vhost_net_rs.ko: the module parameter, socket lookups (tun_get_socket() and the
 * raw packet socket checks of drivers/vhost/net.c get_socket()), socket I/O, and the shared
 * acrn-rs kernel shim.
 */
#include <linux/if_tun.h>
#include <linux/if_tap.h>
#include <linux/if_vlan.h>
#include <linux/skbuff.h>
#include <linux/uio.h>
#include <linux/file.h>
#include <linux/moduleparam.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uaccess.h>
#include <linux/virtio_net.h>
#include <net/sock.h>
#include <net/xdp.h>
#include "../rust/shim.c"

static char *node_name = "vhost-net-rs";
module_param(node_name, charp, 0444);
MODULE_PARM_DESC(node_name, "device node name under /dev (default vhost-net-rs)");

const char *vhost_net_rs_node_name(void);
struct socket *vhost_net_rs_get_socket(int fd);
void vhost_net_rs_put_socket(struct socket *sock);
int vhost_net_rs_sendmsg(struct socket *sock, const struct iovec *iov, unsigned long nr,
			 size_t len);
int vhost_net_rs_recvmsg(struct socket *sock, const struct iovec *iov, unsigned long nr,
			 size_t len);
int vhost_net_rs_peek_len(struct socket *sock);
bool vhost_net_rs_can_batch(struct socket *sock);
void *vhost_net_rs_xdp_alloc(void);
void vhost_net_rs_xdp_free(void *batch);
int vhost_net_rs_xdp_add(void *batch, struct socket *sock, const struct iovec *iov,
			 unsigned long nr, size_t len, size_t hlen);
int vhost_net_rs_xdp_flush(void *batch, struct socket *sock);

const char *vhost_net_rs_node_name(void)
{
	return node_name;
}

static struct socket *get_raw_socket(int fd)
{
	int r;
	struct socket *sock = sockfd_lookup(fd, &r);

	if (!sock)
		return ERR_PTR(-ENOTSOCK);
	if (sock->sk->sk_type != SOCK_RAW) {
		r = -ESOCKTNOSUPPORT;
		goto err;
	}
	if (sock->sk->sk_family != AF_PACKET) {
		r = -EPFNOSUPPORT;
		goto err;
	}
	return sock;
err:
	sockfd_put(sock);
	return ERR_PTR(r);
}

static struct socket *get_tap_socket(int fd)
{
	struct file *file = fget(fd);
	struct socket *sock;

	if (!file)
		return ERR_PTR(-EBADF);
	sock = tun_get_socket(file);
	if (!IS_ERR(sock))
		return sock;
	sock = tap_get_socket(file);
	if (IS_ERR(sock))
		fput(file);
	return sock;
}

/*
 * The socket behind @fd, holding a reference on its file: a raw AF_PACKET socket or a
 * tun/tap file, as vhost_net's get_socket(); ERR_PTR(-ENOTSOCK) for anything else.
 */
struct socket *vhost_net_rs_get_socket(int fd)
{
	struct socket *sock = get_raw_socket(fd);

	if (!IS_ERR(sock))
		return sock;
	sock = get_tap_socket(fd);
	if (!IS_ERR(sock))
		return sock;
	return ERR_PTR(-ENOTSOCK);
}

/* Drops the reference vhost_net_rs_get_socket() took. */
void vhost_net_rs_put_socket(struct socket *sock)
{
	sockfd_put(sock);
}

/*
 * Sends one packet gathered from @nr user iovecs (in the current mm, the owner's), without
 * blocking, as vhost_net's handle_tx_copy(); -EAGAIN when the socket is full.
 */
int vhost_net_rs_sendmsg(struct socket *sock, const struct iovec *iov, unsigned long nr,
			 size_t len)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };

	acrn_rs_iov_iter(&msg.msg_iter, ITER_SOURCE, iov, nr, len);
	return sock->ops->sendmsg(sock, &msg, len);
}

/*
 * Receives one packet into @nr user iovecs without blocking; MSG_TRUNC makes the return the
 * packet's full length even when the buffers were shorter (the rest is dropped).
 */
int vhost_net_rs_recvmsg(struct socket *sock, const struct iovec *iov, unsigned long nr,
			 size_t len)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_TRUNC };

	acrn_rs_iov_iter(&msg.msg_iter, ITER_DEST, iov, nr, len);
	return sock->ops->recvmsg(sock, &msg, len, MSG_DONTWAIT | MSG_TRUNC);
}

/* Length of the next packet to receive, 0 if none (vhost_net's peek_head_len()). */
int vhost_net_rs_peek_len(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct sk_buff *head;
	unsigned long flags;
	int len = 0;

	/* tun/tap keep packets in their ptr_ring and say how long the next one is. */
	if (sock->ops->peek_len)
		return sock->ops->peek_len(sock);
	spin_lock_irqsave(&sk->sk_receive_queue.lock, flags);
	head = skb_peek(&sk->sk_receive_queue);
	if (head) {
		len = head->len;
		if (skb_vlan_tag_present(head))
			len += VLAN_HLEN;
	}
	spin_unlock_irqrestore(&sk->sk_receive_queue.lock, flags);
	return len;
}

/* ---------------------------------------------------------------- XDP batches for tun */

#define VHOST_NET_RS_XDP_BATCH 64

/*
 * Up to 64 frames copied out of guest memory into page fragments, handed to tun/tap in one
 * sendmsg as XDP buffers (struct tun_msg_ctl, TUN_MSG_PTR), which builds their skbs without
 * a copy: the protocol vhost_net uses for small frames.
 */
struct vhost_net_rs_xdp {
	struct page_frag_cache pf_cache;
	struct xdp_buff xdp[VHOST_NET_RS_XDP_BATCH];
	int count;
};

/* Batching is for tun/tap sockets with an unlimited send buffer (vhost_net's rule). */
bool vhost_net_rs_can_batch(struct socket *sock)
{
	return sock->sk->sk_family != AF_PACKET && sock->sk->sk_sndbuf == INT_MAX;
}

void *vhost_net_rs_xdp_alloc(void)
{
	return kzalloc(sizeof(struct vhost_net_rs_xdp), GFP_KERNEL);
}

/* Frees the batch, dropping frames not handed over. */
void vhost_net_rs_xdp_free(void *batch)
{
	struct vhost_net_rs_xdp *x = batch;

	for (int i = 0; i < x->count; i++)
		put_page(virt_to_head_page(x->xdp[i].data));
	page_frag_cache_drain(&x->pf_cache);
	kfree(x);
}

/*
 * Copies @n bytes to @dst from the user buffer *@src (advancing it) if there is one, else from
 * @from: a frame in one buffer (the usual case) needs no iov_iter at all.
 */
static bool vhost_net_rs_copy_in(void *dst, size_t n, const u8 __user **src,
				 struct iov_iter *from)
{
	if (*src) {
		if (copy_from_user(dst, *src, n))
			return false;
		*src += n;
		return true;
	}
	return copy_from_iter(dst, n, from) == n;
}

/*
 * Copies one frame (an @hlen-byte vnet header, then the data; @len bytes in all) from @nr
 * user iovecs into the batch. -ENOSPC if the batch is full or the frame does not fit a page
 * (send it alone), -EFAULT/-EINVAL for a bad frame, -ENOMEM.
 */
int vhost_net_rs_xdp_add(void *batch, struct socket *sock, const struct iovec *iov,
			 unsigned long nr, size_t len, size_t hlen)
{
	struct vhost_net_rs_xdp *x = batch;
	int headroom = sock_flag(sock->sk, SOCK_XDP) ? XDP_PACKET_HEADROOM : 0;
	int pad = SKB_DATA_ALIGN(NET_IP_ALIGN + NET_SKB_PAD + headroom + hlen);
	int buflen = SKB_DATA_ALIGN(sizeof(struct skb_shared_info));
	struct xdp_buff *xdp = &x->xdp[x->count];
	const u8 __user *src;
	struct tun_xdp_hdr *hdr;
	struct iov_iter from;
	size_t dlen;
	void *buf;

	if (x->count == VHOST_NET_RS_XDP_BATCH)
		return -ENOSPC;
	if (len < hlen)
		return -EFAULT;
	dlen = len - hlen;
	if (SKB_DATA_ALIGN(dlen + pad) + SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) >
	    PAGE_SIZE)
		return -ENOSPC;
	buflen += SKB_DATA_ALIGN(dlen + pad);
	buf = page_frag_alloc_align(&x->pf_cache, buflen, GFP_KERNEL, SMP_CACHE_BYTES);
	if (!buf)
		return -ENOMEM;
	hdr = buf;
	memset(&hdr->gso, 0, sizeof(hdr->gso));
	src = acrn_rs_one_buf(iov, nr, len);
	if (!src)
		iov_iter_init(&from, ITER_SOURCE, iov, nr, len);
	if (hlen) {
		struct virtio_net_hdr *gso = &hdr->gso;

		/* The header may be longer than virtio_net_hdr: the pad leaves room for it. */
		if (!vhost_net_rs_copy_in(buf + offsetof(struct tun_xdp_hdr, gso), hlen, &src, &from))
			goto fault;
		if ((gso->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		    le16_to_cpu(gso->csum_start) + le16_to_cpu(gso->csum_offset) + 2 >
			    le16_to_cpu(gso->hdr_len))
			gso->hdr_len = cpu_to_le16(le16_to_cpu(gso->csum_start) +
						   le16_to_cpu(gso->csum_offset) + 2);
		if (le16_to_cpu(gso->hdr_len) > dlen) {
			put_page(virt_to_head_page(buf));
			return -EINVAL;
		}
	}
	if (!vhost_net_rs_copy_in(buf + pad, dlen, &src, &from))
		goto fault;
	xdp_init_buff(xdp, buflen, NULL);
	xdp_prepare_buff(xdp, buf, pad, dlen, true);
	hdr->buflen = buflen;
	x->count++;
	return 0;
fault:
	put_page(virt_to_head_page(buf));
	return -EFAULT;
}

/* Hands the batched frames to the socket in one sendmsg; they are gone either way. */
int vhost_net_rs_xdp_flush(void *batch, struct socket *sock)
{
	struct vhost_net_rs_xdp *x = batch;
	struct tun_msg_ctl ctl = {
		.type = TUN_MSG_PTR,
		.num = x->count,
		.ptr = x->xdp,
	};
	struct msghdr msg = {
		.msg_control = &ctl,
		.msg_controllen = sizeof(ctl),
		.msg_flags = MSG_DONTWAIT,
	};
	int err;

	if (!x->count)
		return 0;
	err = sock->ops->sendmsg(sock, &msg, 0);
	if (err < 0) {
		/* Not taken by the socket: free them. */
		for (int i = 0; i < x->count; i++)
			put_page(virt_to_head_page(x->xdp[i].data));
	}
	x->count = 0;
	return err;
}
