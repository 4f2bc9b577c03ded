// SPDX-License-Identifier: GPL-2.0

//! `ACRN_IOCTL_PM_GET_CPU_STATE` (Linux `hsm.c` `pmcmd_ioctl`): the DM asks the hypervisor
//! for a VM's P-state or C-state counts and tables.
//!
//! The argument is a `u64` command (`ACRN_PMCMD_*` in bits 7:0, the VM id and the table
//! index above); the answer overwrites it in place: a `u64` count, or a whole
//! `acrn_pstate_data`/`acrn_cstate_data`, longer than the command (upstream ABI). An unknown
//! command type succeeds and writes nothing, as upstream.

use crate::{hypercall, kext::ioctl::IoctlArg};
use kernel::prelude::*;

/// Handles the ioctl.
pub(crate) fn get_cpu_state(arg: &IoctlArg) -> Result<isize> {
    let cmd: u64 = arg.read()?;
    if let Some(answer) = hypercall::get_cpu_state(cmd)? {
        arg.write_bytes(&answer)?;
    }
    Ok(0)
}
