/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pages pinned with FOLL_PIN in the whole system, for the tests that check our modules give
 * every pin back (guest RAM of the HSM, ring pages of the vhost devices).
 */
#ifndef ACRN_RS_PINNED_PAGES_H
#define ACRN_RS_PINNED_PAGES_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * Pages pinned right now, or -1: /proc/vmstat's nr_foll_pin_acquired - nr_foll_pin_released,
 * the per-CPU counters folded first by writing vm/stat_refresh.
 */
static inline long pinned_pages(void)
{
	long acquired = -1, released = -1, v;
	char name[64];
	FILE *f;
	int fd;

	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, "1", 1) != 1) {
		close(fd);
		return -1;
	}
	close(fd);
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acquired = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			released = v;
	}
	fclose(f);
	return acquired < 0 || released < 0 ? -1 : acquired - released;
}

#endif
