// SPDX-License-Identifier: GPL-2.0

//! The Intel VMX path of the boot: a skeleton. It reads the VMX capability MSRs, computes
//! the Service VM's controls and checks EPT, logs the result, and parks: the VMX backend
//! (`acrn-hv-vmx`) has never run (QEMU/TCG has no VMX; no Bochs run yet), so it does not
//! start a guest.

use acrn_hv_boot::x86::halt_forever;
use acrn_hv_boot::{error, info};
use acrn_hv_vmx::caps::{EptCaps, SERVICE_VM_CONTROLS};

/// Reports what VMX offers and parks this pCPU.
pub fn skeleton() -> ! {
    match acrn_hv_vmx::vmx::caps() {
        Ok(m) => {
            let b = m.basic();
            let ept = EptCaps::decode(m.ept_vpid);
            info!(
                "VMX rev {} region {} true-ctls {}; EPT usable {} 2M {} 1G {}",
                b.revision,
                b.region_size,
                b.true_ctls,
                ept.usable(),
                ept.page_2m,
                ept.page_1g
            );
            match m.controls(&SERVICE_VM_CONTROLS) {
                Ok(c) => info!(
                    "VMX controls pin {:#x} proc {:#x} proc2 {:#x} exit {:#x} entry {:#x}",
                    c.pin, c.proc, c.proc2, c.exit, c.entry
                ),
                Err(e) => error!("VMX controls: {e:?}"),
            }
        }
        Err(e) => error!("VMX: {e:?}"),
    }
    error!("the VMX backend is a skeleton (compile- and unit-tested, never run): pCPU parked");
    halt_forever()
}
