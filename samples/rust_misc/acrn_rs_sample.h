/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Userspace ABI of the sample misc device /dev/acrn_rs_sample (samples/rust_misc), which
 * exercises the acrn-rs kernel extensions (rust/): misc device, per-file state, typed
 * ioctl arguments. Magic 0xA3, numbers 0x00-0x0F (unassigned in ioctl-number.rst).
 */
#ifndef _UAPI_ACRN_RS_SAMPLE_H
#define _UAPI_ACRN_RS_SAMPLE_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Argument of ACRN_RS_SAMPLE_XCHG: stores @value, returns the previous value in @old. */
struct acrn_rs_sample_xchg {
	__u64 value;
	__u64 old;
};

/*
 * Argument of ACRN_RS_SAMPLE_SET_KICK: every write to the eventfd @kick_fd makes the device's
 * worker thread add one to the __u64 at @counter_addr in the caller's memory, then signal the
 * eventfd @call_fd (vhost's kick/call shape). @kick_fd = -1 stops it.
 */
struct acrn_rs_sample_kick {
	__s32 kick_fd;
	__s32 call_fd;
	__u64 counter_addr;
};

#define ACRN_RS_SAMPLE_TYPE	0xA3
/* Sets this file's value. */
#define ACRN_RS_SAMPLE_SET	_IOW(ACRN_RS_SAMPLE_TYPE, 0x00, __u64)
/* Gets this file's value. */
#define ACRN_RS_SAMPLE_GET	_IOR(ACRN_RS_SAMPLE_TYPE, 0x01, __u64)
/* Exchanges this file's value. */
#define ACRN_RS_SAMPLE_XCHG	_IOWR(ACRN_RS_SAMPLE_TYPE, 0x02, struct acrn_rs_sample_xchg)
/* Adds the ioctl argument (by value) to this file's value; -EOVERFLOW on overflow. */
#define ACRN_RS_SAMPLE_ADD	_IO(ACRN_RS_SAMPLE_TYPE, 0x03)
/* Returns the number of open files of the device as the ioctl's return value. */
#define ACRN_RS_SAMPLE_OPEN_FILES _IO(ACRN_RS_SAMPLE_TYPE, 0x04)
/* Starts (or stops) the kick -> worker -> counter + call path of this file. */
#define ACRN_RS_SAMPLE_SET_KICK	_IOW(ACRN_RS_SAMPLE_TYPE, 0x05, struct acrn_rs_sample_kick)
/* Returns the number of worker runs of this file that could not update the counter. */
#define ACRN_RS_SAMPLE_FAULTS	_IO(ACRN_RS_SAMPLE_TYPE, 0x06)

#endif
