/* SPDX-License-Identifier: GPL-2.0 */
/*
 * BENCH_FILTER for the benchmark programs (`make bench FILTER=...`, exported by the guest's
 * init from acrn_rs.bench_filter): a comma-separated list of name parts. A figure is measured
 * if its name contains one of them; all are without the variable or with it empty.
 */
#ifndef ACRN_RS_BENCH_FILTER_H
#define ACRN_RS_BENCH_FILTER_H

#include <stdlib.h>
#include <string.h>

static inline int bench_chosen(const char *name)
{
	const char *f = getenv("BENCH_FILTER");

	if (!f || !*f)
		return 1;
	while (*f) {
		size_t n = strcspn(f, ",");

		if (n && memmem(name, strlen(name), f, n))
			return 1;
		f += n;
		if (*f == ',')
			f++;
	}
	return 0;
}

#endif
