// SPDX-License-Identifier: GPL-2.0
/*
 * C part of vhost_blk_rs.ko: the module parameter, the backend file (a regular file or a
 * block device), asynchronous reads and writes through the file's read_iter/write_iter with
 * a completion callback (the kiocb protocol of fs/aio.c), flush, discard and write zeroes,
 * and the shared acrn-rs kernel shim.
 */
#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/moduleparam.h>
#include <linux/uio.h>
#include <linux/virtio_blk.h>
#include "../rust/shim.c"

static char *node_name = "vhost-blk";
module_param(node_name, charp, 0444);
MODULE_PARM_DESC(node_name, "device node name under /dev (default vhost-blk)");

static bool helper = true;
module_param(helper, bool, 0644);
MODULE_PARM_DESC(helper,
		 "a second worker thread per device takes part of a busy queue's requests "
		 "(default 1; 0: the device's worker serves every request itself)");

static bool complete_inline = true;
module_param(complete_inline, bool, 0644);
MODULE_PARM_DESC(complete_inline,
		 "take results of I/O completed during submission directly (default 1; 0 sends "
		 "every completion through the worker, as for a slow disk)");

/* Longest busy-poll window: a poll holds the queue lock, which the ioctls also take. */
#define POLL_US_MAX 10000

static int poll_us_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, POLL_US_MAX);
}

static const struct kernel_param_ops poll_us_ops = {
	.set = poll_us_set,
	.get = param_get_uint,
};

static unsigned int poll_us;
module_param_cb(poll_us, &poll_us_ops, &poll_us, 0644);
MODULE_PARM_DESC(poll_us,
		 "busy-poll window in microseconds: after a queue runs empty, the worker keeps "
		 "polling it that long before it asks for kicks and sleeps (default 0: off; "
		 "at most 10000)");

const char *vhost_blk_rs_node_name(void);
u64 vhost_blk_rs_poll_ns(void);
bool vhost_blk_rs_helper(void);
void *vhost_blk_rs_get_file(int fd, u64 *capacity, bool *writable, bool *fallocate);
void vhost_blk_rs_put_file(void *file);
int vhost_blk_rs_fsync(void *file);
int vhost_blk_rs_discard(void *file, u64 pos, u64 len);
int vhost_blk_rs_write_zeroes(void *file, u64 pos, u64 len, bool unmap);
void vhost_blk_rs_id(void *file, char *buf, size_t len);
void *vhost_blk_rs_io_alloc(void *file, u32 nreqs, void *worker);
void vhost_blk_rs_io_drain(void *io);
void vhost_blk_rs_io_wake(void *io);
void vhost_blk_rs_io_free(void *io);
struct vhost_blk_rs_done;
long vhost_blk_rs_io_submit(void *io, u32 tag, bool write, u64 pos, const struct iovec *iov,
			    unsigned long nr, size_t len, u64 status);
u32 vhost_blk_rs_io_reap(void *io, struct vhost_blk_rs_done *done, u32 max);

const char *vhost_blk_rs_node_name(void)
{
	return node_name;
}

/*
 * Whether busy queues hand requests to the device's helper thread: module parameter helper,
 * and more than one CPU online (on one, the handover would only add thread switches).
 */
bool vhost_blk_rs_helper(void)
{
	return READ_ONCE(helper) && num_online_cpus() > 1;
}

/* The busy-poll window (module parameter poll_us), in nanoseconds; 0: off. */
u64 vhost_blk_rs_poll_ns(void)
{
	return (u64)READ_ONCE(poll_us) * NSEC_PER_USEC;
}

/* ---------------------------------------------------------------- backend */

/*
 * The file open as @fd, with a reference: a regular file or a block device, readable
 * (-EBADF otherwise, -EINVAL for other kinds of file). *capacity is its size in bytes now,
 * *writable whether it was opened for writing, *fallocate whether it can discard and write
 * zeroes (block devices always can, see below; files if their file system has fallocate).
 */
void *vhost_blk_rs_get_file(int fd, u64 *capacity, bool *writable, bool *fallocate)
{
	struct file *file = fget(fd);
	umode_t mode;

	if (!file)
		return ERR_PTR(-EBADF);
	mode = file_inode(file)->i_mode;
	if (S_ISBLK(mode)) {
		*capacity = bdev_nr_bytes(file_bdev(file));
	} else if (S_ISREG(mode)) {
		*capacity = i_size_read(file_inode(file));
	} else {
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	if (!(file->f_mode & FMODE_READ) || !file->f_op->read_iter) {
		fput(file);
		return ERR_PTR(-EBADF);
	}
	*writable = (file->f_mode & FMODE_WRITE) && file->f_op->write_iter;
	*fallocate = *writable && (S_ISBLK(mode) || file->f_op->fallocate);
	return file;
}

void vhost_blk_rs_put_file(void *file)
{
	fput(file);
}

/* VIRTIO_BLK_T_FLUSH: completed writes reach stable storage. */
int vhost_blk_rs_fsync(void *file)
{
	return vfs_fsync(file, 0);
}

static bool is_bdev(struct file *file)
{
	return S_ISBLK(file_inode(file)->i_mode);
}

/*
 * VIRTIO_BLK_T_DISCARD of [pos, pos + len): a hole in a file; a discard on a block device
 * that supports it (its page cache dropped first), else nothing (discard is a hint).
 */
int vhost_blk_rs_discard(void *file, u64 pos, u64 len)
{
	struct file *f = file;
	struct block_device *bdev;
	int ret;

	if (!(f->f_mode & FMODE_WRITE))
		return -EBADF;
	if (!is_bdev(f))
		return vfs_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pos, len);
	bdev = file_bdev(f);
	if (!bdev_max_discard_sectors(bdev))
		return 0;
	ret = invalidate_inode_pages2_range(f->f_mapping, pos >> PAGE_SHIFT,
					    (pos + len - 1) >> PAGE_SHIFT);
	if (ret)
		return ret;
	return blkdev_issue_discard(bdev, pos >> SECTOR_SHIFT, len >> SECTOR_SHIFT, GFP_KERNEL);
}

/*
 * VIRTIO_BLK_T_WRITE_ZEROES of [pos, pos + len). Block devices zero the range (writing
 * zeroes where the device has no command for it). Files: a zeroed range, or a hole filled
 * again unless @unmap allows leaving it (tmpfs knows only holes).
 */
int vhost_blk_rs_write_zeroes(void *file, u64 pos, u64 len, bool unmap)
{
	struct file *f = file;
	int ret;

	ret = vfs_fallocate(f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, pos, len);
	if (ret != -EOPNOTSUPP || is_bdev(f))
		return ret;
	ret = vfs_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pos, len);
	if (ret || unmap)
		return ret;
	ret = vfs_fallocate(f, FALLOC_FL_KEEP_SIZE, pos, len);
	return ret == -EOPNOTSUPP ? 0 : ret;
}

/* VIRTIO_BLK_T_GET_ID: the backend's file name, NUL-padded (not terminated at @len). */
void vhost_blk_rs_id(void *file, char *buf, size_t len)
{
	struct file *f = file;
	char name[VIRTIO_BLK_ID_BYTES + 1];

	memset(buf, 0, len);
	snprintf(name, sizeof(name), "%pd", f->f_path.dentry);
	memcpy(buf, name, min(len, strnlen(name, VIRTIO_BLK_ID_BYTES)));
}

/* ---------------------------------------------------------------- asynchronous I/O */

struct vhost_blk_rs_io;

/*
 * Who completes a request whose read_iter/write_iter returned -EIOCBQUEUED: if the
 * completion runs before the submitter has looked (a ramdisk completes inside submit_bio),
 * the submitter takes the result directly; otherwise the completion list does.
 */
enum {
	REQ_SUBMITTING,		/* in read_iter/write_iter */
	REQ_DONE_INLINE,	/* completed before the submitter looked: its result is in ret */
	REQ_QUEUED,		/* the submitter has looked: completion goes to the list */
};

/*
 * One request in flight: slot @tag (the chain's head index) of its queue, with what its
 * completion needs: the owner's address of its status byte, its length and direction.
 */
struct vhost_blk_rs_req {
	struct kiocb iocb;
	struct llist_node node;
	struct vhost_blk_rs_io *io;
	long ret;
	u64 status;
	atomic_t state;
	u32 tag;
	u32 len;
	bool write;
};

/* A completed request, as vhost_blk_rs_io_reap() returns it (blk.rs: Completion). */
struct vhost_blk_rs_done {
	u64 status;
	long ret;
	u32 tag;
	u32 len;
	u8 write;
};

/*
 * The requests of one virtqueue: a slot per descriptor (a chain's head indexes it, so a
 * head is in flight at most once), the completion list the worker reaps, and the number in
 * flight, which vhost_blk_rs_io_free() waits to drop to zero. Holds a reference on the file.
 */
struct vhost_blk_rs_io {
	struct llist_head done;
	atomic_t inflight;
	wait_queue_head_t idle;
	void *worker;
	struct file *file;
	u32 nreqs;
	struct vhost_blk_rs_req reqs[];
};

/*
 * @nreqs request slots on @file, whose completions wake @worker (an acrn_rs_worker that
 * must outlive the result).
 */
void *vhost_blk_rs_io_alloc(void *file, u32 nreqs, void *worker)
{
	struct vhost_blk_rs_io *io;

	io = kvzalloc(struct_size(io, reqs, nreqs), GFP_KERNEL);
	if (!io)
		return NULL;
	init_llist_head(&io->done);
	atomic_set(&io->inflight, 0);
	init_waitqueue_head(&io->idle);
	io->worker = worker;
	io->file = get_file(file);
	io->nreqs = nreqs;
	return io;
}

/* A request left flight; the last one wakes vhost_blk_rs_io_free(). */
static void vhost_blk_rs_io_put(struct vhost_blk_rs_io *io)
{
	unsigned long flags;

	/* Under the wait-queue lock: once the waiter has taken it, @io is no longer touched. */
	spin_lock_irqsave(&io->idle.lock, flags);
	if (atomic_dec_and_test(&io->inflight))
		wake_up_locked(&io->idle);
	spin_unlock_irqrestore(&io->idle.lock, flags);
}

static void vhost_blk_rs_end_write(struct kiocb *iocb)
{
	if ((iocb->ki_flags & IOCB_WRITE) && S_ISREG(file_inode(iocb->ki_filp)->i_mode))
		kiocb_end_write(iocb);
}

/* ki_complete: any context, interrupts included. */
static void vhost_blk_rs_complete(struct kiocb *iocb, long ret)
{
	struct vhost_blk_rs_req *req = container_of(iocb, struct vhost_blk_rs_req, iocb);
	struct vhost_blk_rs_io *io = req->io;

	vhost_blk_rs_end_write(iocb);
	req->ret = ret;
	/* Full barrier: the submitter that sees DONE_INLINE sees ret. */
	if (atomic_cmpxchg(&req->state, REQ_SUBMITTING, REQ_DONE_INLINE) == REQ_SUBMITTING)
		return;
	llist_add(&req->node, &io->done);
	acrn_rs_worker_wake(io->worker);
	vhost_blk_rs_io_put(io);
}

/* Wakes the worker that reaps @io's completions. */
void vhost_blk_rs_io_wake(void *io_)
{
	struct vhost_blk_rs_io *io = io_;

	acrn_rs_worker_wake(io->worker);
}

/* Waits until no request is in flight; their completions are on the list. */
void vhost_blk_rs_io_drain(void *io_)
{
	struct vhost_blk_rs_io *io = io_;

	wait_event(io->idle, atomic_read(&io->inflight) == 0);
	/* The last completer may still hold the lock: wait for it to let go. */
	spin_lock_irq(&io->idle.lock);
	spin_unlock_irq(&io->idle.lock);
}

/* Waits for the requests in flight, then frees the slots (completions not reaped are lost). */
void vhost_blk_rs_io_free(void *io_)
{
	struct vhost_blk_rs_io *io = io_;

	vhost_blk_rs_io_drain(io);
	fput(io->file);
	kvfree(io);
}

/*
 * Reads (or writes) @len bytes at @pos of the file into (from) @nr user iovecs of the
 * current mm, as request @tag, whose status byte is at @status. Returns -EIOCBQUEUED if it
 * completes later through the completion list (vhost_blk_rs_io_reap), else its result now:
 * bytes moved or -errno. Submissions of different tags may run concurrently (the device's
 * worker and its helper); a tag is submitted again only once its completion was reaped.
 */
long vhost_blk_rs_io_submit(void *io_, u32 tag, bool write, u64 pos, const struct iovec *iov,
			    unsigned long nr, size_t len, u64 status)
{
	struct vhost_blk_rs_io *io = io_;
	struct vhost_blk_rs_req *req;
	struct file *file = io->file;
	bool inline_ok = READ_ONCE(complete_inline);
	struct iov_iter iter;
	long ret;

	if (tag >= io->nreqs)
		return -EINVAL;
	req = &io->reqs[tag];
	/* One buffer (the usual 4 KiB request) takes the block layer's single-buffer path. */
	acrn_rs_iov_iter(&iter, write ? ITER_SOURCE : ITER_DEST, iov, nr, len);
	init_sync_kiocb(&req->iocb, file);
	/*
	 * Bios from the per-CPU cache, as io_uring asks for every read and write: block devices
	 * then allocate and free no bio per request (others ignore the flag).
	 */
	req->iocb.ki_flags |= IOCB_ALLOC_CACHE;
	req->iocb.ki_pos = pos;
	req->iocb.ki_complete = vhost_blk_rs_complete;
	req->io = io;
	req->tag = tag;
	req->status = status;
	req->len = len;
	req->write = write;
	atomic_set(&req->state, inline_ok ? REQ_SUBMITTING : REQ_QUEUED);
	atomic_inc(&io->inflight);
	if (write) {
		if (S_ISREG(file_inode(file)->i_mode))
			kiocb_start_write(&req->iocb);
		req->iocb.ki_flags |= IOCB_WRITE;
		ret = file->f_op->write_iter(&req->iocb, &iter);
	} else {
		ret = file->f_op->read_iter(&req->iocb, &iter);
	}
	if (ret == -EIOCBQUEUED) {
		if (!inline_ok ||
		    atomic_cmpxchg(&req->state, REQ_SUBMITTING, REQ_QUEUED) == REQ_SUBMITTING)
			return ret;
		/* Completed already (write end done there): a synchronous result after all. */
		ret = req->ret;
	} else {
		vhost_blk_rs_end_write(&req->iocb);
	}
	/*
	 * No completion touches @io for this request any more, and no one waits: submissions
	 * and vhost_blk_rs_io_drain()/free() never overlap (the Rust side drains only after the
	 * queue's worker and helper have stopped submitting), so a plain decrement does;
	 * vhost_blk_rs_io_put()'s lock is for completions racing a waiter.
	 */
	atomic_dec(&io->inflight);
	/* Interrupted system-call codes mean nothing to a guest. */
	if (ret == -ERESTARTSYS || ret == -ERESTARTNOINTR || ret == -ERESTARTNOHAND ||
	    ret == -ERESTART_RESTARTBLOCK)
		ret = -EINTR;
	return ret;
}

/*
 * Takes up to @max completed requests, oldest first, into @done. Any beyond @max go back on
 * the list.
 */
u32 vhost_blk_rs_io_reap(void *io_, struct vhost_blk_rs_done *done, u32 max)
{
	struct vhost_blk_rs_io *io = io_;
	struct llist_node *list = llist_reverse_order(llist_del_all(&io->done));
	struct vhost_blk_rs_req *req, *tmp;
	u32 n = 0;

	llist_for_each_entry_safe(req, tmp, list, node) {
		if (n == max) {
			llist_add(&req->node, &io->done);
			continue;
		}
		done[n] = (struct vhost_blk_rs_done){
			.status = req->status,
			.ret = req->ret,
			.tag = req->tag,
			.len = req->len,
			.write = req->write,
		};
		n++;
	}
	return n;
}
