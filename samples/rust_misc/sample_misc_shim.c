// SPDX-License-Identifier: GPL-2.0
/* C part of acrn_rs_sample_misc.ko: the shared acrn-rs kernel shim. */
#include "../../rust/shim.c"
