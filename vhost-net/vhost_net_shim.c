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
#include <net/sock.h>
#include "../rust/shim.c"

static char *node_name = "vhost-net-rs";
module_param(node_name, charp, 0444);
MODULE_PARM_DESC(node_name, "device node name under /dev (default vhost-net-rs)");

const char *vhost_net_rs_node_name(void);
void *vhost_net_rs_current_mm(void);
struct socket *vhost_net_rs_get_socket(int fd);
void vhost_net_rs_put_socket(struct socket *sock);
int vhost_net_rs_sendmsg(struct socket *sock, const struct iovec *iov, unsigned long nr,
			 size_t len);
int vhost_net_rs_recvmsg(struct socket *sock, const struct iovec *iov, unsigned long nr,
			 size_t len);
int vhost_net_rs_peek_len(struct socket *sock);

const char *vhost_net_rs_node_name(void)
{
	return node_name;
}

/* The current task's mm, for comparing with the owner's (identity only). */
void *vhost_net_rs_current_mm(void)
{
	return current->mm;
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

	iov_iter_init(&msg.msg_iter, ITER_SOURCE, iov, nr, len);
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

	iov_iter_init(&msg.msg_iter, ITER_DEST, iov, nr, len);
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
