/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel module helpers for the acrn-rs selftests: load and unload modules with the raw
 * syscalls, so a test sees the exact errno the module's init returns.
 */
#ifndef ACRN_RS_KMOD_H
#define ACRN_RS_KMOD_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static char kmod_found[4096];
static const char *kmod_wanted;

static int kmod_match(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *base = path + ftw->base;
	size_t n = strlen(kmod_wanted);

	if (type == FTW_F && !strncmp(base, kmod_wanted, n) && !strcmp(base + n, ".ko")) {
		snprintf(kmod_found, sizeof(kmod_found), "%s", path);
		return 1;
	}
	return 0;
}

/* Finds <name>.ko under /lib/modules/<release>; returns its path or NULL. */
static inline const char *kmod_path(const char *name)
{
	struct utsname u;
	char dir[512];

	if (uname(&u))
		return NULL;
	snprintf(dir, sizeof(dir), "/lib/modules/%s", u.release);
	kmod_wanted = name;
	kmod_found[0] = '\0';
	if (nftw(dir, kmod_match, 16, FTW_PHYS) != 1)
		return NULL;
	return kmod_found;
}

/* Loads module @name with finit_module(2); returns 0 or -errno. */
static inline int kmod_load(const char *name)
{
	const char *path = kmod_path(name);
	int fd, ret;

	if (!path)
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(__NR_finit_module, fd, "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

/* Unloads module @name with delete_module(2) (O_NONBLOCK); returns 0 or -errno. */
static inline int kmod_unload(const char *name)
{
	return syscall(__NR_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

/* True if module @name is listed in /proc/modules. */
static inline int kmod_loaded(const char *name)
{
	char line[512];
	size_t n = strlen(name);
	FILE *f = fopen("/proc/modules", "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, name, n) && line[n] == ' ';
	fclose(f);
	return found;
}

/* Loads @name unless it is loaded already; returns 0 or -errno. */
static inline int kmod_ensure_loaded(const char *name)
{
	int ret = kmod_loaded(name) ? 0 : kmod_load(name);

	return ret == -EEXIST ? 0 : ret;
}

#endif
