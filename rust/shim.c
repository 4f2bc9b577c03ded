// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the acrn-rs kernel extensions. Not built on its own: a module's C shim
 * #includes this file, so each module carries its own private copy.
 */
#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched/clock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include "shim.h"

/* ---------------------------------------------------------------- misc device */

/*
 * Registers a misc device with a dynamic minor and the sysfs attribute @groups (may be NULL).
 * On success *out holds an opaque handle for acrn_rs_misc_deregister(). @name, @fops and
 * @groups must stay valid until then.
 */
int acrn_rs_misc_register(const char *name, const struct file_operations *fops,
			  const struct attribute_group **groups, void **out)
{
	struct miscdevice *misc;
	int ret;

	misc = kzalloc(sizeof(*misc), GFP_KERNEL);
	if (!misc)
		return -ENOMEM;
	misc->minor = MISC_DYNAMIC_MINOR;
	misc->name = name;
	misc->fops = fops;
	misc->groups = groups;
	ret = misc_register(misc);
	if (ret) {
		kfree(misc);
		return ret;
	}
	*out = misc;
	return 0;
}

void acrn_rs_misc_deregister(void *misc)
{
	misc_deregister(misc);
	kfree(misc);
}

/* ---------------------------------------------------------------- poll hook */

/* A wait-queue entry on a polled file, calling @wake for events in @mask. */
struct acrn_rs_poll {
	wait_queue_entry_t wait;
	poll_table table;
	wait_queue_head_t *wqh;
	/* What keeps wqh alive: a file reference, or (eventfd hooks) a context reference. */
	struct file *file;
	struct eventfd_ctx *ctx;
	void (*wake)(void *data, u32 mask);
	void *data;
	u32 mask;
};

static void acrn_rs_poll_queue(struct file *file, wait_queue_head_t *wqh, poll_table *pt)
{
	struct acrn_rs_poll *p = container_of(pt, struct acrn_rs_poll, table);

	/* Files with one wait queue only (eventfd, tap): a second call would be a bug. */
	if (WARN_ON_ONCE(p->wqh))
		return;
	p->wqh = wqh;
	add_wait_queue(wqh, &p->wait);
}

/* Runs under the wait queue's lock, possibly with interrupts off. */
static int acrn_rs_poll_wakeup(wait_queue_entry_t *wait, unsigned int mode, int sync, void *key)
{
	struct acrn_rs_poll *p = container_of(wait, struct acrn_rs_poll, wait);
	u32 mask = (__force u32)key_to_poll(key);

	if (mask & p->mask)
		p->wake(p->data, mask & p->mask);
	return 0;
}

/*
 * Hooks @wake onto the wait queue of the file open as @fd, holding a file reference until
 * acrn_rs_poll_stop(). *@ready gets the events already pending. ERR_PTR(-EBADF) for a bad
 * fd, ERR_PTR(-EINVAL) for a file without a wait queue.
 */
void *acrn_rs_poll_start(int fd, u32 mask, void (*wake)(void *data, u32 mask), void *data,
			 u32 *ready)
{
	struct acrn_rs_poll *p;
	__poll_t events;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return ERR_PTR(-ENOMEM);
	p->file = fget(fd);
	if (!p->file) {
		kfree(p);
		return ERR_PTR(-EBADF);
	}
	p->wake = wake;
	p->data = data;
	p->mask = mask;
	init_waitqueue_func_entry(&p->wait, acrn_rs_poll_wakeup);
	init_poll_funcptr(&p->table, acrn_rs_poll_queue);
	events = vfs_poll(p->file, &p->table);
	if (!p->wqh) {
		fput(p->file);
		kfree(p);
		return ERR_PTR(-EINVAL);
	}
	*ready = (__force u32)events & mask;
	return p;
}

/*
 * Like acrn_rs_poll_start() for an eventfd, but holding a reference to the eventfd context
 * instead of the file: closing the last descriptor releases the file, which wakes the hook
 * with EPOLLHUP (KVM's and ACRN's irqfd model). *@ctx gets the context (for comparisons; the
 * hook's reference). ERR_PTR(-EBADF) for a bad fd, ERR_PTR(-EINVAL) if it is no eventfd.
 */
void *acrn_rs_poll_start_eventfd(int fd, u32 mask, void (*wake)(void *data, u32 mask),
				 void *data, u32 *ready, struct eventfd_ctx **ctx)
{
	struct acrn_rs_poll *p;
	struct file *file;
	__poll_t events;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return ERR_PTR(-ENOMEM);
	file = fget(fd);
	if (!file) {
		kfree(p);
		return ERR_PTR(-EBADF);
	}
	p->ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(p->ctx)) {
		void *err = ERR_CAST(p->ctx);

		fput(file);
		kfree(p);
		return err;
	}
	p->wake = wake;
	p->data = data;
	p->mask = mask;
	init_waitqueue_func_entry(&p->wait, acrn_rs_poll_wakeup);
	init_poll_funcptr(&p->table, acrn_rs_poll_queue);
	events = vfs_poll(file, &p->table);
	fput(file);
	if (!p->wqh) {
		eventfd_ctx_put(p->ctx);
		kfree(p);
		return ERR_PTR(-EINVAL);
	}
	*ready = (__force u32)events & mask;
	*ctx = p->ctx;
	return p;
}

/* Unhooks; once this returns, the wake function is neither running nor called again. */
void acrn_rs_poll_stop(void *poll)
{
	struct acrn_rs_poll *p = poll;

	remove_wait_queue(p->wqh, &p->wait);
	if (p->file)
		fput(p->file);
	if (p->ctx)
		eventfd_ctx_put(p->ctx);
	kfree(p);
}

/* ---------------------------------------------------------------- worker thread */

/* A kernel thread running @run in the mm of the task that created it. */
struct acrn_rs_worker {
	struct task_struct *task;
	struct mm_struct *mm;
	bool (*run)(void *data);
	void *data;
	wait_queue_head_t flushed;
	/* Runs requested and runs finished; a request while pending coalesces. */
	atomic64_t requested;
	atomic64_t done;
	unsigned long pending;
};

static int acrn_rs_worker_fn(void *arg)
{
	struct acrn_rs_worker *w = arg;
	s64 seen;

	kthread_use_mm(w->mm);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		if (!test_and_clear_bit(0, &w->pending)) {
			schedule();
			continue;
		}
		__set_current_state(TASK_RUNNING);
		/* Every request up to here is served by this run. */
		seen = atomic64_read(&w->requested);
		if (w->run(w->data))
			/* Work left: run again, after cond_resched() below. */
			set_bit(0, &w->pending);
		/* Release: a flusher that sees this count sees the run's effects. */
		atomic64_set_release(&w->done, seen);
		wake_up_all(&w->flushed);
		cond_resched();
	}
	kthread_unuse_mm(w->mm);
	return 0;
}

/* Starts a worker named "<name>-<pid>" in current's mm; ERR_PTR(-EINVAL) without an mm. */
void *acrn_rs_worker_create(const char *name, bool (*run)(void *data), void *data)
{
	struct acrn_rs_worker *w;
	struct task_struct *task;

	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return ERR_PTR(-ENOMEM);
	w->mm = get_task_mm(current);
	if (!w->mm) {
		kfree(w);
		return ERR_PTR(-EINVAL);
	}
	w->run = run;
	w->data = data;
	init_waitqueue_head(&w->flushed);
	atomic64_set(&w->requested, 0);
	atomic64_set(&w->done, 0);
	task = kthread_create(acrn_rs_worker_fn, w, "%s-%d", name, current->pid);
	if (IS_ERR(task)) {
		mmput(w->mm);
		kfree(w);
		return ERR_CAST(task);
	}
	w->task = task;
	wake_up_process(task);
	return w;
}

/* Requests a run; callable in atomic context. */
void acrn_rs_worker_wake(void *worker)
{
	struct acrn_rs_worker *w = worker;

	atomic64_inc(&w->requested);
	/* Order the request count before the pending bit the worker tests. */
	smp_mb__before_atomic();
	if (!test_and_set_bit(0, &w->pending))
		wake_up_process(w->task);
}

/* Waits until the runs requested before this call have finished. */
void acrn_rs_worker_flush(void *worker)
{
	struct acrn_rs_worker *w = worker;
	s64 target = atomic64_read(&w->requested);

	wait_event(w->flushed, atomic64_read_acquire(&w->done) >= target);
}

/* Stops the thread (after its current run) and drops the mm reference. */
void acrn_rs_worker_destroy(void *worker)
{
	struct acrn_rs_worker *w = worker;

	kthread_stop(w->task);
	mmput(w->mm);
	kfree(w);
}

/* A clock for busy-poll windows, in nanoseconds (cheap; only compared on one CPU). */
u64 acrn_rs_clock_ns(void)
{
	return local_clock();
}

/*
 * Whether a busy-poll by the current task may go on until @end (acrn_rs_clock_ns()):
 * nothing else wants this CPU (need_resched, or any other runnable task here: a woken task
 * need not preempt us, and the one we poll for may be it, as KVM's halt polling checks),
 * no signal is pending, the time is not up, and, in a worker thread, no run is requested
 * (a kick or a completion: the caller should return so that the worker serves it).
 * vhost's vhost_can_busy_poll() and vhost_vq_has_work().
 */
bool acrn_rs_worker_may_poll(u64 end)
{
	struct acrn_rs_worker *w;

	if (need_resched() || !single_task_running() || signal_pending(current) ||
	    local_clock() >= end)
		return false;
	if (!(current->flags & PF_KTHREAD) || kthread_func(current) != acrn_rs_worker_fn)
		return true;
	w = kthread_data(current);
	return !test_bit(0, &w->pending);
}

/* ---------------------------------------------------------------- user memory */

/* The current task's mm, for comparing with a device owner's (identity only). */
void *acrn_rs_current_mm(void)
{
	return current->mm;
}

/* access_ok() for the current task: [addr, addr + size) lies in user space. */
bool acrn_rs_access_ok(u64 addr, u64 size)
{
	if ((u64)(unsigned long)addr != addr || (u64)(unsigned long)size != size)
		return false;
	return access_ok((void __user *)(unsigned long)addr, (unsigned long)size);
}

/* One 16-bit load from user memory (get_user: a single access, no tearing). */
int acrn_rs_get_user_u16(u64 addr, u16 *val)
{
	return get_user(*val, (u16 __user *)(unsigned long)addr);
}

/* One 16-bit store to user memory (put_user: a single access). */
int acrn_rs_put_user_u16(u64 addr, u16 val)
{
	return put_user(val, (u16 __user *)(unsigned long)addr);
}

/*
 * The one user buffer that @nr iovecs of @len bytes in all are, or NULL if they are several
 * (or one at user address 0, which takes the general path).
 */
static inline void __user *acrn_rs_one_buf(const struct iovec *iov, unsigned long nr,
					   size_t len)
{
	return nr == 1 && iov[0].iov_len == len ? iov[0].iov_base : NULL;
}

/*
 * @iter over @nr user iovecs of @len bytes in all: ITER_UBUF for a single buffer (the usual
 * frame or request), whose copies and block I/O take a shorter path than ITER_IOVEC's.
 */
static inline void acrn_rs_iov_iter(struct iov_iter *iter, unsigned int dir,
				    const struct iovec *iov, unsigned long nr, size_t len)
{
	void __user *one = acrn_rs_one_buf(iov, nr, len);

	if (one)
		iov_iter_ubuf(iter, dir, one, len);
	else
		iov_iter_init(iter, dir, iov, nr, len);
}

/* ---------------------------------------------------------------- pinned user memory */

/* Most pages one pinned range may span (4 MiB: every ring of a 32768-entry queue fits). */
#define ACRN_RS_UMAP_MAX_PAGES 1024

/* A range of user memory, its pages pinned and mapped contiguously into the kernel. */
struct acrn_rs_umap {
	void *vaddr;
	unsigned long npages;
	struct page *pages[];
};

/*
 * Pins the pages of [@uaddr, @uaddr + @len) in the current task's mm for reading and writing
 * (FOLL_LONGTERM: they stay pinned until acrn_rs_umap_destroy()) and maps them contiguously
 * into the kernel; *@kaddr is then the kernel address of @uaddr. The pages are the ones
 * mapped now: if the task later maps something else there, the mapping keeps the old pages.
 * ERR_PTR(-EFAULT) for an empty range, one outside user space, or one not all of whose pages
 * can be pinned writable (nothing stays pinned then); -E2BIG above ACRN_RS_UMAP_MAX_PAGES;
 * -ENOMEM.
 */
void *acrn_rs_umap_create(u64 uaddr, u64 len, void **kaddr)
{
	struct acrn_rs_umap *m;
	unsigned long first, n;
	long pinned;

	if (!len || !acrn_rs_access_ok(uaddr, len))
		return ERR_PTR(-EFAULT);
	first = uaddr >> PAGE_SHIFT;
	n = ((uaddr + len - 1) >> PAGE_SHIFT) - first + 1;
	if (n > ACRN_RS_UMAP_MAX_PAGES)
		return ERR_PTR(-E2BIG);
	m = kvzalloc(struct_size(m, pages, n), GFP_KERNEL);
	if (!m)
		return ERR_PTR(-ENOMEM);
	pinned = pin_user_pages_fast(first << PAGE_SHIFT, n, FOLL_WRITE | FOLL_LONGTERM,
				     m->pages);
	if (pinned != n) {
		if (pinned > 0)
			unpin_user_pages(m->pages, pinned);
		kvfree(m);
		return ERR_PTR(pinned < 0 ? pinned : -EFAULT);
	}
	m->vaddr = vmap(m->pages, n, VM_MAP, PAGE_KERNEL);
	if (!m->vaddr) {
		unpin_user_pages(m->pages, n);
		kvfree(m);
		return ERR_PTR(-ENOMEM);
	}
	m->npages = n;
	*kaddr = m->vaddr + offset_in_page(uaddr);
	return m;
}

/* Unmaps and unpins (marking the pages dirty: they may have been written). Process context. */
void acrn_rs_umap_destroy(void *umap)
{
	struct acrn_rs_umap *m = umap;

	vunmap(m->vaddr);
	unpin_user_pages_dirty_lock(m->pages, m->npages, true);
	kvfree(m);
}
