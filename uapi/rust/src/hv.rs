// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! Hypervisor-side ABI that is not in the uapi header: hypercall ids and argument structs,
//! guest flags, CPUID leaves and the upcall vector.
//!
//! Sources: ACRN `hypervisor/include/public/acrn_hv_defs.h` and `acrn_common.h`, Linux
//! `drivers/virt/acrn/hypercall.h` and `arch/x86/include/asm/acrn.h`. `tests/abi.rs` checks
//! the ids and the memory-region structs against the Linux tree.
//!
//! # Calling convention
//!
//! `vmcall` with the hypercall id in R8 (32 bits, zero-extended), parameter 1 in RDI and
//! parameter 2 in RSI. Unless noted, parameter 1 is the VM id (relative to the Service VM)
//! and parameter 2 the Service VM physical address of the argument struct.
//!
//! # Return value
//!
//! RAX holds a C `int32_t` sign-extended to 64 bits: 0 (or a non-negative value) on
//! success, a negated Linux errno on failure. The dispatcher returns `-ENOTTY` for an
//! unknown id or a caller without permission; handlers mostly return `-EINVAL` (bad
//! argument or VM state), `-EFAULT` (guest memory not readable), `-ENODEV`, `-EPERM` or
//! `-ENOMEM`. A VM that may not use hypercalls gets #UD, a caller outside ring 0 #GP(0).
//! [`hc_result`] decodes RAX.

use crate::acrn;

// ---------------------------------------------------------------------------------------------
// Hypercall ids
// ---------------------------------------------------------------------------------------------

/// Vendor byte of every hypercall id (bits 31:24).
pub const HC_ID: u64 = 0x80;

/// `BASE_HC_ID(x, y)`: `(x << 24) | y`.
pub const fn base_hc_id(x: u64, y: u64) -> u64 {
    (x << 24) | y
}

/// `HC_IDX(id)`: the low byte, the only part the hypervisor's dispatch table looks at.
pub const fn hc_idx(id: u64) -> u8 {
    (id & 0xff) as u8
}

/// `BASE_HC_ID(HC_ID, base + nr)`.
const fn hc(base: u64, nr: u64) -> u64 {
    base_hc_id(HC_ID, base + nr)
}

/// Group base: general.
pub const HC_ID_GEN_BASE: u64 = 0x00;
/// Group base: VM management.
pub const HC_ID_VM_BASE: u64 = 0x10;
/// Group base: interrupts.
pub const HC_ID_IRQ_BASE: u64 = 0x20;
/// Group base: I/O requests.
pub const HC_ID_IOREQ_BASE: u64 = 0x30;
/// Group base: guest memory.
pub const HC_ID_MEM_BASE: u64 = 0x40;
/// Group base: PCI and device assignment.
pub const HC_ID_PCI_BASE: u64 = 0x50;
/// Group base: debug.
pub const HC_ID_DBG_BASE: u64 = 0x60;
/// Group base: Trusty.
pub const HC_ID_TRUSTY_BASE: u64 = 0x70;
/// Group base: power management.
pub const HC_ID_PM_BASE: u64 = 0x80;
/// Group base: x86 TEE.
pub const HC_ID_TEE_BASE: u64 = 0x90;

/// P1 = address of [`HcApiVersion`] (out).
pub const HC_GET_API_VERSION: u64 = hc(HC_ID_GEN_BASE, 0x00);
/// P1 = LAPIC id of a Service VM vCPU to take offline (Linux: `HC_SOS_REMOVE_CPU`).
pub const HC_SERVICE_VM_OFFLINE_CPU: u64 = hc(HC_ID_GEN_BASE, 0x01);
/// P1 = upcall vector, 0x20..=0xFF.
pub const HC_SET_CALLBACK_VECTOR: u64 = hc(HC_ID_GEN_BASE, 0x02);

/// P1 = address of [`acrn::VmCreation`] (in/out).
pub const HC_CREATE_VM: u64 = hc(HC_ID_VM_BASE, 0x00);
/// P1 = vmid.
pub const HC_DESTROY_VM: u64 = hc(HC_ID_VM_BASE, 0x01);
/// P1 = vmid.
pub const HC_START_VM: u64 = hc(HC_ID_VM_BASE, 0x02);
/// P1 = vmid.
pub const HC_PAUSE_VM: u64 = hc(HC_ID_VM_BASE, 0x03);
/// Legacy, not dispatched.
pub const HC_CREATE_VCPU: u64 = hc(HC_ID_VM_BASE, 0x04);
/// P1 = vmid.
pub const HC_RESET_VM: u64 = hc(HC_ID_VM_BASE, 0x05);
/// P1 = vmid, P2 = address of [`acrn::VcpuRegs`].
pub const HC_SET_VCPU_REGS: u64 = hc(HC_ID_VM_BASE, 0x06);

/// P1 = vmid, P2 = address of [`acrn::MsiEntry`].
pub const HC_INJECT_MSI: u64 = hc(HC_ID_IRQ_BASE, 0x03);
/// P1 = vmid, P2 = address of an [`IntrMonitor`] page.
pub const HC_VM_INTR_MONITOR: u64 = hc(HC_ID_IRQ_BASE, 0x04);
/// P1 = vmid, P2 = [`IrqlineOps`] **by value** ([`IrqlineOps::to_u64`]).
pub const HC_SET_IRQLINE: u64 = hc(HC_ID_IRQ_BASE, 0x05);

/// P1 = vmid, P2 = address of a `u64` holding the address of the I/O request page.
pub const HC_SET_IOREQ_BUFFER: u64 = hc(HC_ID_IOREQ_BASE, 0x00);
/// P1 = vmid, P2 = vCPU id.
pub const HC_NOTIFY_REQUEST_FINISH: u64 = hc(HC_ID_IOREQ_BASE, 0x01);
/// P1 = vmid, P2 = address of [`AsyncioInfo`] (not in upstream Linux).
pub const HC_ASYNCIO_ASSIGN: u64 = hc(HC_ID_IOREQ_BASE, 0x02);
/// P1 = vmid, P2 = address of [`AsyncioInfo`] (not in upstream Linux).
pub const HC_ASYNCIO_DEASSIGN: u64 = hc(HC_ID_IOREQ_BASE, 0x03);

/// P1 = vmid, P2 = address of [`VmGpa2Hpa`].
pub const HC_VM_GPA2HPA: u64 = hc(HC_ID_MEM_BASE, 0x01);
/// P1 = address of [`SetRegions`] (the vmid is inside).
pub const HC_VM_SET_MEMORY_REGIONS: u64 = hc(HC_ID_MEM_BASE, 0x02);
/// P1 = vmid, P2 = address of a `wp_data`.
pub const HC_VM_WRITE_PROTECT_PAGE: u64 = hc(HC_ID_MEM_BASE, 0x03);
/// P1 = vmid, P2 = address of [`SbufParam`].
pub const HC_SETUP_SBUF: u64 = hc(HC_ID_MEM_BASE, 0x04);

/// Obsolete, not dispatched.
pub const HC_ASSIGN_PTDEV: u64 = hc(HC_ID_PCI_BASE, 0x00);
/// Obsolete, not dispatched.
pub const HC_DEASSIGN_PTDEV: u64 = hc(HC_ID_PCI_BASE, 0x01);
/// Obsolete, not dispatched.
pub const HC_VM_PCI_MSIX_REMAP: u64 = hc(HC_ID_PCI_BASE, 0x02);
/// P1 = vmid, P2 = address of [`acrn::PtdevIrq`] (Linux: `HC_SET_PTDEV_INTR`).
pub const HC_SET_PTDEV_INTR_INFO: u64 = hc(HC_ID_PCI_BASE, 0x03);
/// P1 = vmid, P2 = address of [`acrn::PtdevIrq`] (Linux: `HC_RESET_PTDEV_INTR`).
pub const HC_RESET_PTDEV_INTR_INFO: u64 = hc(HC_ID_PCI_BASE, 0x04);
/// P1 = vmid, P2 = address of [`acrn::Pcidev`].
pub const HC_ASSIGN_PCIDEV: u64 = hc(HC_ID_PCI_BASE, 0x05);
/// P1 = vmid, P2 = address of [`acrn::Pcidev`].
pub const HC_DEASSIGN_PCIDEV: u64 = hc(HC_ID_PCI_BASE, 0x06);
/// P1 = vmid, P2 = address of [`acrn::Mmiodev`].
pub const HC_ASSIGN_MMIODEV: u64 = hc(HC_ID_PCI_BASE, 0x07);
/// P1 = vmid, P2 = address of [`acrn::Mmiodev`].
pub const HC_DEASSIGN_MMIODEV: u64 = hc(HC_ID_PCI_BASE, 0x08);
/// P1 = vmid, P2 = address of [`acrn::Vdev`] (Linux: `HC_CREATE_VDEV`).
pub const HC_ADD_VDEV: u64 = hc(HC_ID_PCI_BASE, 0x09);
/// P1 = vmid, P2 = address of [`acrn::Vdev`] (Linux: `HC_DESTROY_VDEV`).
pub const HC_REMOVE_VDEV: u64 = hc(HC_ID_PCI_BASE, 0x0A);

/// Debug: set up the NPK log.
pub const HC_SETUP_HV_NPK_LOG: u64 = hc(HC_ID_DBG_BASE, 0x01);
/// Debug: profiling operations.
pub const HC_PROFILING_OPS: u64 = hc(HC_ID_DBG_BASE, 0x02);
/// Debug: P1 = address of [`HwInfo`].
pub const HC_GET_HW_INFO: u64 = hc(HC_ID_DBG_BASE, 0x03);

/// Trusty: initialise (needs `GUEST_FLAG_SECURE_WORLD_ENABLED`).
pub const HC_INITIALIZE_TRUSTY: u64 = hc(HC_ID_TRUSTY_BASE, 0x00);
/// Trusty: world switch.
pub const HC_WORLD_SWITCH: u64 = hc(HC_ID_TRUSTY_BASE, 0x01);
/// Trusty: save/restore the secure-world context.
pub const HC_SAVE_RESTORE_SWORLD_CTX: u64 = hc(HC_ID_TRUSTY_BASE, 0x02);

/// P1 = PM command word ([`PmCmd`]), P2 = address of the result.
pub const HC_PM_GET_CPU_STATE: u64 = hc(HC_ID_PM_BASE, 0x00);

/// TEE: vCPU boot done (needs `GUEST_FLAG_TEE`).
pub const HC_TEE_VCPU_BOOT_DONE: u64 = hc(HC_ID_TEE_BASE, 0x00);
/// TEE: switch execution environment (needs `GUEST_FLAG_TEE` or `GUEST_FLAG_REE`).
pub const HC_SWITCH_EE: u64 = hc(HC_ID_TEE_BASE, 0x01);

// ---------------------------------------------------------------------------------------------
// Return values
// ---------------------------------------------------------------------------------------------

/// Operation not permitted.
pub const EPERM: i32 = 1;
/// No such entry.
pub const ENOENT: i32 = 2;
/// I/O error.
pub const EIO: i32 = 5;
/// Out of memory.
pub const ENOMEM: i32 = 12;
/// Bad address.
pub const EFAULT: i32 = 14;
/// Busy.
pub const EBUSY: i32 = 16;
/// Already exists.
pub const EEXIST: i32 = 17;
/// No such device.
pub const ENODEV: i32 = 19;
/// Invalid argument.
pub const EINVAL: i32 = 22;
/// Unknown hypercall or no permission.
pub const ENOTTY: i32 = 25;

/// Decodes RAX after a hypercall: `Ok(rax)` if the sign-extended 32-bit result is
/// non-negative, else `Err(errno)` with the negative errno (e.g. `-EINVAL`).
pub const fn hc_result(rax: u64) -> Result<u64, i32> {
    let ret = rax as i64;
    if ret < 0 {
        Err(ret as i32)
    } else {
        Ok(rax)
    }
}

/// Encodes a hypercall result for RAX: `ret` sign-extended to 64 bits.
pub const fn hc_ret_to_rax(ret: i32) -> u64 {
    ret as i64 as u64
}

// ---------------------------------------------------------------------------------------------
// Argument structs
// ---------------------------------------------------------------------------------------------

/// `struct hc_api_version`: result of [`HC_GET_API_VERSION`].
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HcApiVersion {
    /// Major version (ACRN: 1).
    pub major_version: u32,
    /// Minor version (ACRN: 0).
    pub minor_version: u32,
}

/// API version ACRN reports: major.
pub const ACRN_API_MAJOR_VERSION: u32 = 1;
/// API version ACRN reports: minor.
pub const ACRN_API_MINOR_VERSION: u32 = 0;

/// `vm_memory_region.type`: map.
pub const MR_ADD: u32 = 0;
/// `vm_memory_region.type`: unmap.
pub const MR_DEL: u32 = 2;
/// `vm_memory_region.type`: change the attributes of a mapping.
pub const MR_MODIFY: u32 = 3;

/// `prot` access bit: read (same value as `ACRN_MEM_ACCESS_READ`).
pub const MEM_ACCESS_READ: u32 = acrn::ACRN_MEM_ACCESS_READ;
/// `prot` access bit: write.
pub const MEM_ACCESS_WRITE: u32 = acrn::ACRN_MEM_ACCESS_WRITE;
/// `prot` access bit: execute.
pub const MEM_ACCESS_EXEC: u32 = acrn::ACRN_MEM_ACCESS_EXEC;
/// `prot` access bits: read, write and execute.
pub const MEM_ACCESS_RWX: u32 = acrn::ACRN_MEM_ACCESS_RWX;
/// `prot` mask of the access bits.
pub const MEM_ACCESS_RIGHT_MASK: u32 = acrn::ACRN_MEM_ACCESS_RIGHT_MASK;
/// `prot` memory type: write-back.
pub const MEM_TYPE_WB: u32 = acrn::ACRN_MEM_TYPE_WB;
/// `prot` memory type: write-through.
pub const MEM_TYPE_WT: u32 = acrn::ACRN_MEM_TYPE_WT;
/// `prot` memory type: uncached.
pub const MEM_TYPE_UC: u32 = acrn::ACRN_MEM_TYPE_UC;
/// `prot` memory type: write-combining.
pub const MEM_TYPE_WC: u32 = acrn::ACRN_MEM_TYPE_WC;
/// `prot` memory type: write-protected.
pub const MEM_TYPE_WP: u32 = acrn::ACRN_MEM_TYPE_WP;
/// `prot` mask of the memory-type bits.
pub const MEM_TYPE_MASK: u32 = acrn::ACRN_MEM_TYPE_MASK;

/// `struct vm_memory_region` (Linux: `struct vm_memory_region_op`): one EPT operation.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmMemoryRegion {
    /// `MR_ADD`, `MR_DEL` or `MR_MODIFY` (Linux: `ACRN_MEM_REGION_*`).
    pub r#type: u32,
    /// `MEM_ACCESS_*` | `MEM_TYPE_*` (Linux: `attr`).
    pub prot: u32,
    /// User VM physical address (Linux: `user_vm_pa`).
    pub gpa: u64,
    /// Service VM physical address (Linux: `service_vm_pa`).
    pub service_vm_gpa: u64,
    /// Size in bytes.
    pub size: u64,
}

/// `struct set_regions` (Linux: the header of `struct vm_memory_region_batch`): argument of
/// [`HC_VM_SET_MEMORY_REGIONS`].
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetRegions {
    /// Target VM.
    pub vmid: u16,
    /// Reserved.
    pub reserved0: u16,
    /// Reserved.
    pub reserved1: u32,
    /// Number of [`VmMemoryRegion`]s at `regions_gpa`.
    pub mr_num: u32,
    /// Service VM physical address of the [`VmMemoryRegion`] array (at most one page).
    pub regions_gpa: u64,
}

/// `struct vm_gpa2hpa`: argument of [`HC_VM_GPA2HPA`].
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmGpa2Hpa {
    /// Guest physical address (in).
    pub gpa: u64,
    /// Host physical address (out).
    pub hpa: u64,
}

/// GSI operation: set the line high.
pub const GSI_SET_HIGH: u32 = 0;
/// GSI operation: set the line low.
pub const GSI_SET_LOW: u32 = 1;
/// GSI operation: low-high-low pulse.
pub const GSI_RAISING_PULSE: u32 = 2;
/// GSI operation: high-low-high pulse.
pub const GSI_FALLING_PULSE: u32 = 3;

/// `struct acrn_irqline_ops`: the [`HC_SET_IRQLINE`] / `ACRN_IOCTL_SET_IRQLINE` argument,
/// passed by value as a `u64` (`gsi` in bits 31:0, `op` in bits 63:32).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IrqlineOps {
    /// GSI number.
    pub gsi: u32,
    /// `GSI_*`.
    pub op: u32,
}

impl IrqlineOps {
    /// The `u64` passed in the ioctl/hypercall (the struct's little-endian memory image).
    pub const fn to_u64(self) -> u64 {
        (self.gsi as u64) | ((self.op as u64) << 32)
    }

    /// Decodes the `u64` passed in the ioctl/hypercall.
    pub const fn from_u64(v: u64) -> Self {
        Self {
            gsi: v as u32,
            op: (v >> 32) as u32,
        }
    }
}

/// Maximum number of asyncio descriptors per VM.
pub const ACRN_ASYNCIO_MAX: u32 = 64;
/// `acrn_asyncio_info.type`: port I/O.
pub const ACRN_ASYNCIO_PIO: u32 = 0x01;
/// `acrn_asyncio_info.type`: MMIO.
pub const ACRN_ASYNCIO_MMIO: u32 = 0x02;

/// `struct acrn_asyncio_info`: argument of [`HC_ASYNCIO_ASSIGN`] / [`HC_ASYNCIO_DEASSIGN`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsyncioInfo {
    /// `ACRN_ASYNCIO_PIO` or `ACRN_ASYNCIO_MMIO`.
    pub r#type: u32,
    /// Non-zero: match `data` too.
    pub match_data: u32,
    /// Port or guest physical address.
    pub addr: u64,
    /// Token pushed into the asyncio sbuf (the DM's eventfd).
    pub fd: u64,
    /// Value to match.
    pub data: u64,
}

/// sbuf id: per-pCPU trace buffer.
pub const ACRN_TRACE: u32 = 0;
/// sbuf id: per-pCPU hypervisor log.
pub const ACRN_HVLOG: u32 = 1;
/// sbuf id: per-pCPU SEP profiling.
pub const ACRN_SEP: u32 = 2;
/// sbuf id: per-pCPU SoCWatch.
pub const ACRN_SOCWATCH: u32 = 3;
/// Number of per-pCPU sbuf ids.
pub const ACRN_SBUF_PER_PCPU_ID_MAX: u32 = 4;
/// sbuf id: per-VM asyncio ring.
pub const ACRN_ASYNCIO: u32 = 64;
/// sbuf id: per-VM VM-event ring.
pub const ACRN_VM_EVENT: u32 = 65;

/// `shared_buf.magic`.
pub const SBUF_MAGIC: u64 = 0x5aa5_7aa7_1aa1_3aa3;
/// Size of [`SharedBuf`], the header in front of the elements.
pub const SBUF_HEAD_SIZE: u32 = 64;
/// `shared_buf.flags`: count overruns.
pub const OVERRUN_CNT_EN: u32 = 1 << 0;
/// `shared_buf.flags`: overwrite the oldest element when full.
pub const OVERWRITE_EN: u32 = 1 << 1;

/// `struct acrn_sbuf_param`: argument of [`HC_SETUP_SBUF`].
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SbufParam {
    /// pCPU of a per-pCPU sbuf.
    pub cpu_id: u16,
    /// Reserved.
    pub reserved: u16,
    /// sbuf id (`ACRN_TRACE` .. `ACRN_VM_EVENT`).
    pub sbuf_id: u32,
    /// Service VM physical address of the sbuf.
    pub gpa: u64,
}

/// `struct shared_buf`: header of a shared ring buffer (sbuf). Empty: `head == tail`; full:
/// `(tail + ele_size) % size == head`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SharedBuf {
    /// `SBUF_MAGIC`.
    pub magic: u64,
    /// Number of elements.
    pub ele_num: u32,
    /// Size of one element.
    pub ele_size: u32,
    /// Read offset from the first element.
    pub head: u32,
    /// Write offset from the first element.
    pub tail: u32,
    /// `OVERRUN_CNT_EN`, `OVERWRITE_EN`.
    pub flags: u32,
    /// Reserved.
    pub reserved: u32,
    /// Number of overruns.
    pub overrun_cnt: u32,
    /// `ele_num * ele_size`.
    pub size: u32,
    /// Padding to `SBUF_HEAD_SIZE`.
    pub padding: [u32; 6],
}

/// Passthrough devices tracked by the interrupt monitor.
pub const MAX_PTDEV_NUM: usize = 24;
/// `acrn_intr_monitor.cmd`: read the counters.
pub const INTR_CMD_GET_DATA: u32 = 0;
/// `acrn_intr_monitor.cmd`: delay interrupts.
pub const INTR_CMD_DELAY_INT: u32 = 1;

/// `struct acrn_intr_monitor`: the page of [`HC_VM_INTR_MONITOR`] (392 bytes used).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntrMonitor {
    /// `INTR_CMD_*`.
    pub cmd: u32,
    /// Number of valid `buffer` entries.
    pub buf_cnt: u32,
    /// Pairs of (interrupt, count).
    pub buffer: [u64; MAX_PTDEV_NUM * 2],
}

impl IntrMonitor {
    /// All fields zero.
    pub const fn zeroed() -> Self {
        Self {
            cmd: 0,
            buf_cnt: 0,
            buffer: [0; MAX_PTDEV_NUM * 2],
        }
    }
}

impl Default for IntrMonitor {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// `struct acrn_hw_info`: result of [`HC_GET_HW_INFO`].
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HwInfo {
    /// Number of physical CPUs.
    pub cpu_num: u16,
    /// Reserved.
    pub reserved: [u16; 3],
}

// ---------------------------------------------------------------------------------------------
// PM command word (ACRN_IOCTL_PM_GET_CPU_STATE / HC_PM_GET_CPU_STATE)
// ---------------------------------------------------------------------------------------------

/// VM id, bits 31:24.
pub const PMCMD_VMID_MASK: u64 = 0xff00_0000;
/// vCPU id, bits 23:16.
pub const PMCMD_VCPUID_MASK: u64 = 0x00ff_0000;
/// State number, bits 15:8.
pub const PMCMD_STATE_NUM_MASK: u64 = 0x0000_ff00;
/// Command type, bits 7:0 (`ACRN_PMCMD_*`).
pub const PMCMD_TYPE_MASK: u64 = acrn::PMCMD_TYPE_MASK;
/// Shift of the VM id.
pub const PMCMD_VMID_SHIFT: u32 = 24;
/// Shift of the vCPU id.
pub const PMCMD_VCPUID_SHIFT: u32 = 16;
/// Shift of the state number.
pub const PMCMD_STATE_NUM_SHIFT: u32 = 8;

/// A decoded PM command word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PmCmd {
    /// VM id (bits 31:24).
    pub vmid: u8,
    /// vCPU id (bits 23:16).
    pub vcpu: u8,
    /// P state number, or C state index (bits 15:8).
    pub state: u8,
    /// `ACRN_PMCMD_*` (bits 7:0).
    pub cmd_type: u8,
}

impl PmCmd {
    /// Encodes the command word.
    pub const fn to_u64(self) -> u64 {
        ((self.vmid as u64) << PMCMD_VMID_SHIFT)
            | ((self.vcpu as u64) << PMCMD_VCPUID_SHIFT)
            | ((self.state as u64) << PMCMD_STATE_NUM_SHIFT)
            | (self.cmd_type as u64)
    }

    /// Decodes a command word (bits above 31 are ignored).
    pub const fn from_u64(cmd: u64) -> Self {
        Self {
            vmid: ((cmd & PMCMD_VMID_MASK) >> PMCMD_VMID_SHIFT) as u8,
            vcpu: ((cmd & PMCMD_VCPUID_MASK) >> PMCMD_VCPUID_SHIFT) as u8,
            state: ((cmd & PMCMD_STATE_NUM_MASK) >> PMCMD_STATE_NUM_SHIFT) as u8,
            cmd_type: (cmd & PMCMD_TYPE_MASK) as u8,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// VMs
// ---------------------------------------------------------------------------------------------

/// No VM (`vmid` before CREATE_VM succeeds).
pub const ACRN_INVALID_VMID: u16 = 0xffff;
/// No host physical address.
pub const ACRN_INVALID_HPA: u64 = !0;
/// Length of a VM name (the former `uuid` field of [`acrn::VmCreation`]).
pub const MAX_VM_NAME_LEN: usize = 16;
/// I/O request type used only inside the hypervisor: write-protected page.
pub const ACRN_IOREQ_TYPE_WP: u32 = 3;

/// `vm_flag`: secure world (Trusty) enabled.
pub const GUEST_FLAG_SECURE_WORLD_ENABLED: u64 = 1 << 0;
/// `vm_flag`: LAPIC passed through (requires `GUEST_FLAG_RT`).
pub const GUEST_FLAG_LAPIC_PASSTHROUGH: u64 = 1 << 1;
/// `vm_flag`: the hypervisor polls for I/O request completion.
pub const GUEST_FLAG_IO_COMPLETION_POLLING: u64 = 1 << 2;
/// `vm_flag`: hide MTRRs from the VM.
pub const GUEST_FLAG_HIDE_MTRR: u64 = 1 << 3;
/// `vm_flag`: real-time VM.
pub const GUEST_FLAG_RT: u64 = 1 << 4;
/// `vm_flag`: nested virtualization.
pub const GUEST_FLAG_NVMX_ENABLED: u64 = 1 << 5;
/// `vm_flag`: security VM (TPM2 and SMBIOS passthrough fixups).
pub const GUEST_FLAG_SECURITY_VM: u64 = 1 << 6;
/// `vm_flag`: virtual CAT.
pub const GUEST_FLAG_VCAT_ENABLED: u64 = 1 << 7;
/// `vm_flag`: static VM configuration.
pub const GUEST_FLAG_STATIC_VM: u64 = 1 << 8;
/// `vm_flag`: TEE VM.
pub const GUEST_FLAG_TEE: u64 = 1 << 9;
/// `vm_flag`: REE VM.
pub const GUEST_FLAG_REE: u64 = 1 << 10;
/// `vm_flag`: PMU passed through.
pub const GUEST_FLAG_PMU_PASSTHROUGH: u64 = 1 << 11;
/// `vm_flag`: virtual HWP.
pub const GUEST_FLAG_VHWP: u64 = 1 << 12;
/// `vm_flag`: virtual thermal monitor.
pub const GUEST_FLAG_VTM: u64 = 1 << 13;

// ---------------------------------------------------------------------------------------------
// CPUID and upcall
// ---------------------------------------------------------------------------------------------

/// Signature leaf: EAX = highest leaf, EBX/ECX/EDX = "ACRNACRNACRN".
pub const ACRN_CPUID_SIGNATURE_LEAF: u32 = 0x4000_0000;
/// Feature leaf: EAX = feature bits.
pub const ACRN_CPUID_FEATURES: u32 = 0x4000_0001;
/// Timing leaf: EAX = TSC frequency in kHz.
pub const ACRN_CPUID_TIMING_INFO: u32 = 0x4000_0010;
/// EAX of the signature leaf: the highest ACRN leaf.
pub const ACRN_CPUID_MAX_LEAF: u32 = ACRN_CPUID_TIMING_INFO;
/// Feature bit (EAX of `ACRN_CPUID_FEATURES`): this VM is the privileged Service VM.
pub const ACRN_FEATURE_PRIVILEGED_VM: u32 = 1 << 0;
/// The 12-byte signature.
pub const ACRN_SIGNATURE: &[u8; 12] = b"ACRNACRNACRN";
/// The signature as EBX, ECX, EDX.
pub const ACRN_CPUID_SIGNATURE: [u32; 3] = [0x4e52_4341; 3];

/// Vector of the hypervisor-to-Service-VM upcall (Linux `HYPERVISOR_CALLBACK_VECTOR`, ACRN
/// `HYPERVISOR_CALLBACK_HSM_VECTOR`).
pub const HYPERVISOR_CALLBACK_VECTOR: u8 = 0xF3;

// ---------------------------------------------------------------------------------------------
// Layout checks
// ---------------------------------------------------------------------------------------------

macro_rules! assert_size {
    ($($t:ty => $size:expr;)*) => {
        $(const _: () = assert!(core::mem::size_of::<$t>() == $size);)*
    };
}

assert_size! {
    HcApiVersion => 8;
    VmMemoryRegion => 32;
    SetRegions => 24;
    VmGpa2Hpa => 16;
    IrqlineOps => 8;
    AsyncioInfo => 32;
    SbufParam => 16;
    SharedBuf => 64;
    IntrMonitor => 392;
    HwInfo => 8;
}

const _: () = assert!(core::mem::offset_of!(SetRegions, mr_num) == 8);
const _: () = assert!(core::mem::offset_of!(SetRegions, regions_gpa) == 16);
const _: () = assert!(SBUF_HEAD_SIZE as usize == core::mem::size_of::<SharedBuf>());
const _: () = {
    let mut i = 0;
    while i < 3 {
        let b = [
            ACRN_SIGNATURE[4 * i],
            ACRN_SIGNATURE[4 * i + 1],
            ACRN_SIGNATURE[4 * i + 2],
            ACRN_SIGNATURE[4 * i + 3],
        ];
        assert!(u32::from_le_bytes(b) == ACRN_CPUID_SIGNATURE[i]);
        i += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hc_idx_is_low_byte() {
        assert_eq!(hc_idx(HC_CREATE_VM), 0x10);
        assert_eq!(hc_idx(HC_REMOVE_VDEV), 0x5a);
        assert_eq!(hc_idx(HC_PM_GET_CPU_STATE), 0x80);
        assert_eq!(hc_idx(0xdead_be42), 0x42);
        assert_eq!(HC_GET_API_VERSION, 0x8000_0000);
        assert_eq!(HC_VM_SET_MEMORY_REGIONS, 0x8000_0042);
    }

    #[test]
    fn irqline_round_trip() {
        let ops = IrqlineOps {
            gsi: 0x1234_5678,
            op: GSI_FALLING_PULSE,
        };
        let v = ops.to_u64();
        assert_eq!(v, 0x0000_0003_1234_5678);
        assert_eq!(IrqlineOps::from_u64(v), ops);
        // The u64 is the struct's memory image.
        assert_eq!(v.to_le_bytes()[..4], ops.gsi.to_le_bytes());
        for op in [
            GSI_SET_HIGH,
            GSI_SET_LOW,
            GSI_RAISING_PULSE,
            GSI_FALLING_PULSE,
        ] {
            let o = IrqlineOps { gsi: 47, op };
            assert_eq!(IrqlineOps::from_u64(o.to_u64()), o);
        }
    }

    #[test]
    fn pm_cmd_encode_decode() {
        let c = PmCmd {
            vmid: 3,
            vcpu: 2,
            state: 5,
            cmd_type: acrn::ACRN_PMCMD_GET_CX_DATA as u8,
        };
        assert_eq!(c.to_u64(), 0x0302_0503);
        assert_eq!(PmCmd::from_u64(0x0302_0503), c);
        assert_eq!(PmCmd::from_u64(0xffff_ffff_0302_0503), c);
        let max = PmCmd {
            vmid: 0xff,
            vcpu: 0xff,
            state: 0xff,
            cmd_type: 0xff,
        };
        assert_eq!(max.to_u64(), 0xffff_ffff);
        assert_eq!(PmCmd::from_u64(max.to_u64()), max);
    }

    #[test]
    fn result_sign_extension() {
        assert_eq!(hc_result(0), Ok(0));
        assert_eq!(hc_result(hc_ret_to_rax(-EINVAL)), Err(-EINVAL));
        assert_eq!(hc_result(0xffff_ffff_ffff_ffe7), Err(-ENOTTY));
        assert_eq!(hc_ret_to_rax(-ENOTTY), 0xffff_ffff_ffff_ffe7);
    }
}
