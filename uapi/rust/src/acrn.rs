// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

// Rust mirror of `uapi/linux/acrn.h` (Linux 6.12 `include/uapi/linux/acrn.h`): the ioctl ABI
// of `/dev/acrn_hsm` and the layout of the shared I/O request page.
//
// This file is also compiled on its own inside kernel modules through
// `#[allow(unreachable_pub, dead_code)] #[path = "../uapi/rust/src/acrn.rs"] mod acrn_uapi;`.
// Keep it self-contained: only `core::` paths, no `crate::`/`super::`, no inner attributes,
// every public item documented. `tests/abi.rs` compares every item with the C headers.

use core::mem::size_of;

// ---------------------------------------------------------------------------------------------
// I/O requests
// ---------------------------------------------------------------------------------------------

/// Number of slots in the I/O request page (one per vCPU; slot index = vCPU id).
pub const ACRN_IO_REQUEST_MAX: usize = 16;

/// `processed`: the hypervisor filled the slot; the Service VM has not taken it yet.
pub const ACRN_IOREQ_STATE_PENDING: u32 = 0;
/// `processed`: the Service VM finished the request; the hypervisor owns the slot again.
pub const ACRN_IOREQ_STATE_COMPLETE: u32 = 1;
/// `processed`: HSM handed the request to a client.
pub const ACRN_IOREQ_STATE_PROCESSING: u32 = 2;
/// `processed`: the slot is free (owned by the hypervisor).
pub const ACRN_IOREQ_STATE_FREE: u32 = 3;

/// Request type: port I/O (`reqs.pio_request`).
pub const ACRN_IOREQ_TYPE_PORTIO: u32 = 0;
/// Request type: MMIO (`reqs.mmio_request`).
pub const ACRN_IOREQ_TYPE_MMIO: u32 = 1;
/// Request type: PCI configuration space (`reqs.pci_request`).
pub const ACRN_IOREQ_TYPE_PCICFG: u32 = 2;

/// Direction: the guest reads.
pub const ACRN_IOREQ_DIR_READ: u32 = 0;
/// Direction: the guest writes.
pub const ACRN_IOREQ_DIR_WRITE: u32 = 1;

/// `struct acrn_mmio_request`: an MMIO access (32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmioRequest {
    /// `ACRN_IOREQ_DIR_*`.
    pub direction: u32,
    /// Reserved, 0.
    pub reserved: u32,
    /// Guest physical address.
    pub address: u64,
    /// Access width in bytes.
    pub size: u64,
    /// Value written, or value to return for a read.
    pub value: u64,
}

/// `struct acrn_pio_request`: a port I/O access (32 bytes; the value is 32-bit).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PioRequest {
    /// `ACRN_IOREQ_DIR_*`.
    pub direction: u32,
    /// Reserved, 0.
    pub reserved: u32,
    /// I/O port.
    pub address: u64,
    /// Access width in bytes.
    pub size: u64,
    /// Value written, or value to return for a read.
    pub value: u32,
}

/// `struct acrn_pci_request`: a PCI configuration access (48 bytes). `direction`, `size`
/// and `value` are at the same offsets as in [`PioRequest`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PciRequest {
    /// `ACRN_IOREQ_DIR_*`.
    pub direction: u32,
    /// Reserved, 0.
    pub reserved: [u32; 3],
    /// Access width in bytes.
    pub size: u64,
    /// Value written, or value to return for a read.
    pub value: u32,
    /// PCI bus.
    pub bus: u32,
    /// PCI device.
    pub dev: u32,
    /// PCI function.
    pub func: u32,
    /// Configuration space offset.
    pub reg: u32,
}

/// The `reqs` union of `struct acrn_io_request` (64 bytes). Reading a variant is `unsafe`:
/// the variants have padding, so read the one that `type` names.
#[repr(C)]
#[derive(Clone, Copy)]
pub union IoRequestReqs {
    /// `ACRN_IOREQ_TYPE_PORTIO`.
    pub pio_request: PioRequest,
    /// `ACRN_IOREQ_TYPE_PCICFG`.
    pub pci_request: PciRequest,
    /// `ACRN_IOREQ_TYPE_MMIO`.
    pub mmio_request: MmioRequest,
    /// Raw data.
    pub data: [u64; 8],
}

impl IoRequestReqs {
    /// All bytes zero.
    pub const fn zeroed() -> Self {
        Self { data: [0; 8] }
    }
}

impl Default for IoRequestReqs {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// `struct acrn_io_request`: one 256-byte slot of the I/O request page (`aligned(256)`).
///
/// Life cycle: FREE -> PENDING -> PROCESSING -> COMPLETE -> FREE. COMPLETE and FREE slots
/// belong to the hypervisor, PENDING and PROCESSING ones to the Service VM. Access
/// `processed` atomically (acquire load, release store).
#[repr(C, align(256))]
#[derive(Clone, Copy)]
pub struct IoRequest {
    /// `ACRN_IOREQ_TYPE_*`.
    pub r#type: u32,
    /// Non-zero: the hypervisor polls for completion (no NOTIFY_REQUEST_FINISH hypercall).
    pub completion_polling: u32,
    /// Reserved.
    pub reserved0: [u32; 14],
    /// Request details, at byte 64.
    pub reqs: IoRequestReqs,
    /// Reserved.
    pub reserved1: u32,
    /// 1 if a kernel client handles the request, 0 for the userspace default client.
    pub kernel_handled: u32,
    /// State, `ACRN_IOREQ_STATE_*`.
    pub processed: u32,
}

impl IoRequest {
    /// All fields zero.
    pub const fn zeroed() -> Self {
        Self {
            r#type: 0,
            completion_polling: 0,
            reserved0: [0; 14],
            reqs: IoRequestReqs::zeroed(),
            reserved1: 0,
            kernel_handled: 0,
            processed: 0,
        }
    }
}

impl Default for IoRequest {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// `struct acrn_io_request_buffer`: the 4 KiB I/O request page. In C a struct holding one
/// anonymous union; here the union itself (same layout, alignment 256 as in C: the page
/// itself must be page-aligned by whoever allocates it).
#[repr(C)]
#[derive(Clone, Copy)]
pub union IoRequestBuffer {
    /// The slots, indexed by vCPU id.
    pub req_slot: [IoRequest; ACRN_IO_REQUEST_MAX],
    /// The whole page as bytes.
    pub reserved: [u8; 4096],
}

impl IoRequestBuffer {
    /// All bytes zero.
    pub const fn zeroed() -> Self {
        Self {
            reserved: [0; 4096],
        }
    }
}

impl Default for IoRequestBuffer {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// `struct acrn_ioreq_notify`: argument of [`ACRN_IOCTL_NOTIFY_REQUEST_FINISH`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoreqNotify {
    /// VM id.
    pub vmid: u16,
    /// Reserved, must be 0.
    pub reserved: u16,
    /// vCPU id (slot index).
    pub vcpu: u32,
}

// ---------------------------------------------------------------------------------------------
// VM and vCPU
// ---------------------------------------------------------------------------------------------

/// `struct acrn_vm_creation`: argument of [`ACRN_IOCTL_CREATE_VM`] (48 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmCreation {
    /// VM id, returned by the hypervisor.
    pub vmid: u16,
    /// Reserved, must be 0.
    pub reserved0: u16,
    /// Number of vCPUs, returned by the hypervisor.
    pub vcpu_num: u16,
    /// Reserved, must be 0.
    pub reserved1: u16,
    /// Former UUID; the hypervisor reads a 16-byte VM name here.
    pub uuid: [u8; 16],
    /// `GUEST_FLAG_*` bits, passed to the hypervisor.
    pub vm_flag: u64,
    /// User address of the I/O request page (HSM pins it).
    pub ioreq_buf: u64,
    /// Bitmap of physical CPUs for the vCPUs (0: the configured default).
    pub cpu_affinity: u64,
}

/// `struct acrn_gp_regs`: general-purpose registers (little endian).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpRegs {
    /// RAX.
    pub rax: u64,
    /// RCX.
    pub rcx: u64,
    /// RDX.
    pub rdx: u64,
    /// RBX.
    pub rbx: u64,
    /// RSP.
    pub rsp: u64,
    /// RBP.
    pub rbp: u64,
    /// RSI.
    pub rsi: u64,
    /// RDI.
    pub rdi: u64,
    /// R8.
    pub r8: u64,
    /// R9.
    pub r9: u64,
    /// R10.
    pub r10: u64,
    /// R11.
    pub r11: u64,
    /// R12.
    pub r12: u64,
    /// R13.
    pub r13: u64,
    /// R14.
    pub r14: u64,
    /// R15.
    pub r15: u64,
}

/// `struct acrn_descriptor_ptr`: GDT/IDT pointer (packed, 16 bytes).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DescriptorPtr {
    /// Limit.
    pub limit: u16,
    /// Base address.
    pub base: u64,
    /// Reserved, must be 0.
    pub reserved: [u16; 3],
}

/// `struct acrn_regs`: initial register state of a vCPU (288 bytes, little endian).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regs {
    /// General-purpose registers.
    pub gprs: GpRegs,
    /// GDTR.
    pub gdt: DescriptorPtr,
    /// IDTR.
    pub idt: DescriptorPtr,
    /// RIP.
    pub rip: u64,
    /// CS base.
    pub cs_base: u64,
    /// CR0.
    pub cr0: u64,
    /// CR4.
    pub cr4: u64,
    /// CR3.
    pub cr3: u64,
    /// IA32_EFER.
    pub ia32_efer: u64,
    /// RFLAGS.
    pub rflags: u64,
    /// Reserved, must be 0.
    pub reserved_64: [u64; 4],
    /// CS access rights.
    pub cs_ar: u32,
    /// CS limit.
    pub cs_limit: u32,
    /// Reserved, must be 0.
    pub reserved_32: [u32; 3],
    /// CS selector.
    pub cs_sel: u16,
    /// SS selector.
    pub ss_sel: u16,
    /// DS selector.
    pub ds_sel: u16,
    /// ES selector.
    pub es_sel: u16,
    /// FS selector.
    pub fs_sel: u16,
    /// GS selector.
    pub gs_sel: u16,
    /// LDTR selector.
    pub ldt_sel: u16,
    /// TR selector.
    pub tr_sel: u16,
}

/// `struct acrn_vcpu_regs`: argument of [`ACRN_IOCTL_SET_VCPU_REGS`] (296 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuRegs {
    /// vCPU id.
    pub vcpu_id: u16,
    /// Reserved, must be 0.
    pub reserved: [u16; 3],
    /// Register state.
    pub vcpu_regs: Regs,
}

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

/// Mask of the access-right bits of `acrn_vm_memmap.attr`.
pub const ACRN_MEM_ACCESS_RIGHT_MASK: u32 = 0x0000_0007;
/// Readable.
pub const ACRN_MEM_ACCESS_READ: u32 = 0x0000_0001;
/// Writable.
pub const ACRN_MEM_ACCESS_WRITE: u32 = 0x0000_0002;
/// Executable.
pub const ACRN_MEM_ACCESS_EXEC: u32 = 0x0000_0004;
/// Readable, writable and executable.
pub const ACRN_MEM_ACCESS_RWX: u32 =
    ACRN_MEM_ACCESS_READ | ACRN_MEM_ACCESS_WRITE | ACRN_MEM_ACCESS_EXEC;

/// Mask of the memory-type bits of `acrn_vm_memmap.attr`.
pub const ACRN_MEM_TYPE_MASK: u32 = 0x0000_07C0;
/// Write-back.
pub const ACRN_MEM_TYPE_WB: u32 = 0x0000_0040;
/// Write-through.
pub const ACRN_MEM_TYPE_WT: u32 = 0x0000_0080;
/// Uncached.
pub const ACRN_MEM_TYPE_UC: u32 = 0x0000_0100;
/// Write-combining.
pub const ACRN_MEM_TYPE_WC: u32 = 0x0000_0200;
/// Write-protected.
pub const ACRN_MEM_TYPE_WP: u32 = 0x0000_0400;

/// `acrn_vm_memmap.type`: guest RAM backed by Service VM user memory.
pub const ACRN_MEMMAP_RAM: u32 = 0;
/// `acrn_vm_memmap.type`: MMIO (Service VM physical address).
pub const ACRN_MEMMAP_MMIO: u32 = 1;

/// The anonymous union of `struct acrn_vm_memmap`. Both variants are plain `u64`s, so
/// [`VmMemmap::service_vm_pa`] and [`VmMemmap::vma_base`] read it safely.
#[repr(C)]
#[derive(Clone, Copy)]
pub union VmMemmapAddr {
    /// Service VM physical address (MMIO).
    pub service_vm_pa: u64,
    /// Service VM user address (RAM).
    pub vma_base: u64,
}

impl Default for VmMemmapAddr {
    fn default() -> Self {
        Self { service_vm_pa: 0 }
    }
}

/// `struct acrn_vm_memmap`: argument of [`ACRN_IOCTL_SET_MEMSEG`] and
/// [`ACRN_IOCTL_UNSET_MEMSEG`] (32 bytes). The C anonymous union is the field `addr`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct VmMemmap {
    /// `ACRN_MEMMAP_*`.
    pub r#type: u32,
    /// `ACRN_MEM_ACCESS_*` | `ACRN_MEM_TYPE_*`.
    pub attr: u32,
    /// User VM physical address.
    pub user_vm_pa: u64,
    /// `service_vm_pa` (MMIO) or `vma_base` (RAM).
    pub addr: VmMemmapAddr,
    /// Length in bytes.
    pub len: u64,
}

impl VmMemmap {
    /// The union read as `service_vm_pa`.
    pub const fn service_vm_pa(&self) -> u64 {
        // SAFETY: both union variants are `u64` without padding; any initialised value is
        // a valid `u64`.
        unsafe { self.addr.service_vm_pa }
    }

    /// The union read as `vma_base`.
    pub const fn vma_base(&self) -> u64 {
        // SAFETY: as in `service_vm_pa`.
        unsafe { self.addr.vma_base }
    }
}

// ---------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------

/// `acrn_ptdev_irq.type`: INTx.
pub const ACRN_PTDEV_IRQ_INTX: u32 = 0;
/// `acrn_ptdev_irq.type`: MSI.
pub const ACRN_PTDEV_IRQ_MSI: u32 = 1;
/// `acrn_ptdev_irq.type`: MSI-X.
pub const ACRN_PTDEV_IRQ_MSIX: u32 = 2;

/// The `intx` member of `struct acrn_ptdev_irq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PtdevIrqIntx {
    /// Virtual IOAPIC (or PIC) pin.
    pub virt_pin: u32,
    /// Physical IOAPIC pin.
    pub phys_pin: u32,
    /// Non-zero if `virt_pin` is a PIC pin.
    pub is_pic_pin: u32,
}

/// `struct acrn_ptdev_irq`: argument of [`ACRN_IOCTL_SET_PTDEV_INTR`] and
/// [`ACRN_IOCTL_RESET_PTDEV_INTR`] (20 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PtdevIrq {
    /// `ACRN_PTDEV_IRQ_*`.
    pub r#type: u32,
    /// Virtual BDF.
    pub virt_bdf: u16,
    /// Physical BDF.
    pub phys_bdf: u16,
    /// INTx routing.
    pub intx: PtdevIrqIntx,
}

/// `acrn_pcidev.type`: assign the device through the quirk path.
pub const ACRN_PTDEV_QUIRK_ASSIGN: u32 = 1 << 0;

/// Number of resources in `struct acrn_mmiodev`.
pub const ACRN_MMIODEV_RES_NUM: usize = 3;
/// Number of PCI BARs.
pub const ACRN_PCI_NUM_BARS: usize = 6;

/// `struct acrn_pcidev`: argument of [`ACRN_IOCTL_ASSIGN_PCIDEV`] and
/// [`ACRN_IOCTL_DEASSIGN_PCIDEV`] (36 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pcidev {
    /// `ACRN_PTDEV_QUIRK_ASSIGN` or 0.
    pub r#type: u32,
    /// Virtual BDF.
    pub virt_bdf: u16,
    /// Physical BDF.
    pub phys_bdf: u16,
    /// PCI interrupt line.
    pub intr_line: u8,
    /// PCI interrupt pin.
    pub intr_pin: u8,
    /// BARs.
    pub bar: [u32; ACRN_PCI_NUM_BARS],
}

/// The `res[]` member of `struct acrn_mmiodev`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmiodevRes {
    /// User VM physical address.
    pub user_vm_pa: u64,
    /// Service VM physical address (the hypervisor calls it `host_pa`).
    pub service_vm_pa: u64,
    /// Size in bytes.
    pub size: u64,
    /// Memory type (`ACRN_MEM_TYPE_*`).
    pub mem_type: u64,
}

/// `struct acrn_mmiodev`: argument of [`ACRN_IOCTL_ASSIGN_MMIODEV`] and
/// [`ACRN_IOCTL_DEASSIGN_MMIODEV`] (104 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mmiodev {
    /// Device name.
    pub name: [u8; 8],
    /// MMIO resources.
    pub res: [MmiodevRes; ACRN_MMIODEV_RES_NUM],
}

/// The `id.fields` member of `struct acrn_vdev`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VdevIdFields {
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// Legacy (non-PCI) device id.
    pub legacy_id: u32,
}

/// The `id` union of `struct acrn_vdev`. Both variants are 8 bytes without padding, so
/// [`VdevId::value`] and [`VdevId::fields`] read it safely.
#[repr(C)]
#[derive(Clone, Copy)]
pub union VdevId {
    /// Raw identifier.
    pub value: u64,
    /// Vendor, device and legacy id.
    pub fields: VdevIdFields,
}

impl VdevId {
    /// The union read as `value`.
    pub const fn value(&self) -> u64 {
        // SAFETY: both variants are 8 bytes of integers without padding; every initialised
        // bit pattern is valid for either.
        unsafe { self.value }
    }

    /// The union read as `fields`.
    pub const fn fields(&self) -> VdevIdFields {
        // SAFETY: as in `value`.
        unsafe { self.fields }
    }
}

impl Default for VdevId {
    fn default() -> Self {
        Self { value: 0 }
    }
}

/// `struct acrn_vdev`: argument of [`ACRN_IOCTL_CREATE_VDEV`] and
/// [`ACRN_IOCTL_DESTROY_VDEV`] (192 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Vdev {
    /// Device identifier.
    pub id: VdevId,
    /// BDF of a PCI device, or the legacy device slot.
    pub slot: u64,
    /// I/O resource base addresses.
    pub io_addr: [u32; ACRN_PCI_NUM_BARS],
    /// I/O resource sizes.
    pub io_size: [u32; ACRN_PCI_NUM_BARS],
    /// Device-specific arguments.
    pub args: [u8; 128],
}

impl Vdev {
    /// All fields zero.
    pub const fn zeroed() -> Self {
        Self {
            id: VdevId { value: 0 },
            slot: 0,
            io_addr: [0; ACRN_PCI_NUM_BARS],
            io_size: [0; ACRN_PCI_NUM_BARS],
            args: [0; 128],
        }
    }
}

impl Default for Vdev {
    fn default() -> Self {
        Self::zeroed()
    }
}

// ---------------------------------------------------------------------------------------------
// Interrupts, power management, eventfds
// ---------------------------------------------------------------------------------------------

/// `struct acrn_msi_entry`: argument of [`ACRN_IOCTL_INJECT_MSI`] (16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsiEntry {
    /// MSI address; bits 19:12 are the destination vCPU.
    pub msi_addr: u64,
    /// MSI data; bits 7:0 are the vector.
    pub msi_data: u64,
}

/// `struct acrn_acpi_generic_address`: ACPI generic address structure (packed, 12 bytes).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AcpiGenericAddress {
    /// Address space id.
    pub space_id: u8,
    /// Register width in bits.
    pub bit_width: u8,
    /// Register offset in bits.
    pub bit_offset: u8,
    /// Access size.
    pub access_size: u8,
    /// Address.
    pub address: u64,
}

/// `struct acrn_cstate_data`: one ACPI C state (32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CstateData {
    /// Register of the C state.
    pub cx_reg: AcpiGenericAddress,
    /// C state type.
    pub r#type: u8,
    /// Worst-case entry plus exit latency.
    pub latency: u32,
    /// Average power consumption.
    pub power: u64,
}

/// `struct acrn_pstate_data`: one ACPI P state (48 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PstateData {
    /// Core frequency in MHz.
    pub core_frequency: u64,
    /// Power in mW.
    pub power: u64,
    /// Worst-case transition latency in µs.
    pub transition_latency: u64,
    /// Worst-case bus-master latency in µs.
    pub bus_master_latency: u64,
    /// Value for the performance control register.
    pub control: u64,
    /// Transition status.
    pub status: u64,
}

/// Bits 7:0 of the [`ACRN_IOCTL_PM_GET_CPU_STATE`] command word: `ACRN_PMCMD_*`.
pub const PMCMD_TYPE_MASK: u64 = 0x0000_00ff;
/// `enum acrn_pm_cmd_type`: get the number of P states (result: `u64`).
pub const ACRN_PMCMD_GET_PX_CNT: u64 = 0;
/// `enum acrn_pm_cmd_type`: get one P state (result: [`PstateData`]).
pub const ACRN_PMCMD_GET_PX_DATA: u64 = 1;
/// `enum acrn_pm_cmd_type`: get the number of C states (result: `u64`).
pub const ACRN_PMCMD_GET_CX_CNT: u64 = 2;
/// `enum acrn_pm_cmd_type`: get one C state (result: [`CstateData`]).
pub const ACRN_PMCMD_GET_CX_DATA: u64 = 3;

/// `acrn_ioeventfd.flags`: port I/O (else MMIO).
pub const ACRN_IOEVENTFD_FLAG_PIO: u32 = 0x01;
/// `acrn_ioeventfd.flags`: signal only when the written value equals `data`.
pub const ACRN_IOEVENTFD_FLAG_DATAMATCH: u32 = 0x02;
/// `acrn_ioeventfd.flags`: remove the ioeventfd of `fd`.
pub const ACRN_IOEVENTFD_FLAG_DEASSIGN: u32 = 0x04;

/// `struct acrn_ioeventfd`: argument of [`ACRN_IOCTL_IOEVENTFD`] (32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ioeventfd {
    /// eventfd file descriptor.
    pub fd: u32,
    /// `ACRN_IOEVENTFD_FLAG_*`.
    pub flags: u32,
    /// Port or guest physical address.
    pub addr: u64,
    /// Access length: 1, 2, 4 or 8.
    pub len: u32,
    /// Reserved, must be 0.
    pub reserved: u32,
    /// Value to match with `ACRN_IOEVENTFD_FLAG_DATAMATCH`.
    pub data: u64,
}

/// `acrn_irqfd.flags`: remove the irqfd of `fd`.
pub const ACRN_IRQFD_FLAG_DEASSIGN: u32 = 0x01;

/// `struct acrn_irqfd`: argument of [`ACRN_IOCTL_IRQFD`] (24 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Irqfd {
    /// eventfd file descriptor.
    pub fd: i32,
    /// `ACRN_IRQFD_FLAG_*`.
    pub flags: u32,
    /// MSI to inject when the eventfd is signalled.
    pub msi: MsiEntry,
}

// ---------------------------------------------------------------------------------------------
// ioctl numbers (x86 `_IOC` encoding: dir 31:30, size 29:16, type 15:8, nr 7:0)
// ---------------------------------------------------------------------------------------------

const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = 8;
const IOC_SIZESHIFT: u32 = 16;
const IOC_DIRSHIFT: u32 = 30;
const IOC_SIZEBITS: u32 = 14;
const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)`.
const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    assert!(ty <= 0xff && nr <= 0xff && size < (1 << IOC_SIZEBITS));
    (dir << IOC_DIRSHIFT)
        | (ty << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
}

/// `_IO(type, nr)`.
const fn io(ty: u32, nr: u32) -> u32 {
    ioc(IOC_NONE, ty, nr, 0)
}

/// `_IOW(type, nr, T)`.
const fn iow<T>(ty: u32, nr: u32) -> u32 {
    ioc(IOC_WRITE, ty, nr, size_of::<T>())
}

/// `_IOWR(type, nr, T)`.
const fn iowr<T>(ty: u32, nr: u32) -> u32 {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size_of::<T>())
}

/// The ioctl type (magic) of `/dev/acrn_hsm`.
pub const ACRN_IOCTL_TYPE: u32 = 0xA2;

/// Create the VM of this file: `_IOWR(0xA2, 0x10, struct acrn_vm_creation)`.
pub const ACRN_IOCTL_CREATE_VM: u32 = iowr::<VmCreation>(ACRN_IOCTL_TYPE, 0x10);
/// Destroy the VM: `_IO(0xA2, 0x11)`.
pub const ACRN_IOCTL_DESTROY_VM: u32 = io(ACRN_IOCTL_TYPE, 0x11);
/// Start the VM: `_IO(0xA2, 0x12)`.
pub const ACRN_IOCTL_START_VM: u32 = io(ACRN_IOCTL_TYPE, 0x12);
/// Pause the VM: `_IO(0xA2, 0x13)`.
pub const ACRN_IOCTL_PAUSE_VM: u32 = io(ACRN_IOCTL_TYPE, 0x13);
/// Reset the VM: `_IO(0xA2, 0x15)`.
pub const ACRN_IOCTL_RESET_VM: u32 = io(ACRN_IOCTL_TYPE, 0x15);
/// Set vCPU registers: `_IOW(0xA2, 0x16, struct acrn_vcpu_regs)`.
pub const ACRN_IOCTL_SET_VCPU_REGS: u32 = iow::<VcpuRegs>(ACRN_IOCTL_TYPE, 0x16);
/// Inject an MSI: `_IOW(0xA2, 0x23, struct acrn_msi_entry)`.
pub const ACRN_IOCTL_INJECT_MSI: u32 = iow::<MsiEntry>(ACRN_IOCTL_TYPE, 0x23);
/// Set the interrupt-monitor page (argument: user address): `_IOW(0xA2, 0x24, unsigned long)`.
pub const ACRN_IOCTL_VM_INTR_MONITOR: u32 = iow::<core::ffi::c_ulong>(ACRN_IOCTL_TYPE, 0x24);
/// Set a GSI line (argument: the `u64` by value): `_IOW(0xA2, 0x25, __u64)`.
pub const ACRN_IOCTL_SET_IRQLINE: u32 = iow::<u64>(ACRN_IOCTL_TYPE, 0x25);
/// Complete an I/O request: `_IOW(0xA2, 0x31, struct acrn_ioreq_notify)`.
pub const ACRN_IOCTL_NOTIFY_REQUEST_FINISH: u32 = iow::<IoreqNotify>(ACRN_IOCTL_TYPE, 0x31);
/// Create the default I/O request client: `_IO(0xA2, 0x32)`.
pub const ACRN_IOCTL_CREATE_IOREQ_CLIENT: u32 = io(ACRN_IOCTL_TYPE, 0x32);
/// Wait for I/O requests: `_IO(0xA2, 0x33)`.
pub const ACRN_IOCTL_ATTACH_IOREQ_CLIENT: u32 = io(ACRN_IOCTL_TYPE, 0x33);
/// Destroy the default client: `_IO(0xA2, 0x34)`.
pub const ACRN_IOCTL_DESTROY_IOREQ_CLIENT: u32 = io(ACRN_IOCTL_TYPE, 0x34);
/// Complete all pending I/O requests: `_IO(0xA2, 0x35)`.
pub const ACRN_IOCTL_CLEAR_VM_IOREQ: u32 = io(ACRN_IOCTL_TYPE, 0x35);
/// Map memory: `_IOW(0xA2, 0x41, struct acrn_vm_memmap)`.
pub const ACRN_IOCTL_SET_MEMSEG: u32 = iow::<VmMemmap>(ACRN_IOCTL_TYPE, 0x41);
/// Unmap MMIO: `_IOW(0xA2, 0x42, struct acrn_vm_memmap)`.
pub const ACRN_IOCTL_UNSET_MEMSEG: u32 = iow::<VmMemmap>(ACRN_IOCTL_TYPE, 0x42);
/// Set passthrough interrupt routing: `_IOW(0xA2, 0x53, struct acrn_ptdev_irq)`.
pub const ACRN_IOCTL_SET_PTDEV_INTR: u32 = iow::<PtdevIrq>(ACRN_IOCTL_TYPE, 0x53);
/// Reset passthrough interrupt routing: `_IOW(0xA2, 0x54, struct acrn_ptdev_irq)`.
pub const ACRN_IOCTL_RESET_PTDEV_INTR: u32 = iow::<PtdevIrq>(ACRN_IOCTL_TYPE, 0x54);
/// Assign a PCI device: `_IOW(0xA2, 0x55, struct acrn_pcidev)`.
pub const ACRN_IOCTL_ASSIGN_PCIDEV: u32 = iow::<Pcidev>(ACRN_IOCTL_TYPE, 0x55);
/// De-assign a PCI device: `_IOW(0xA2, 0x56, struct acrn_pcidev)`.
pub const ACRN_IOCTL_DEASSIGN_PCIDEV: u32 = iow::<Pcidev>(ACRN_IOCTL_TYPE, 0x56);
/// Assign an MMIO device: `_IOW(0xA2, 0x57, struct acrn_mmiodev)`.
pub const ACRN_IOCTL_ASSIGN_MMIODEV: u32 = iow::<Mmiodev>(ACRN_IOCTL_TYPE, 0x57);
/// De-assign an MMIO device: `_IOW(0xA2, 0x58, struct acrn_mmiodev)`.
pub const ACRN_IOCTL_DEASSIGN_MMIODEV: u32 = iow::<Mmiodev>(ACRN_IOCTL_TYPE, 0x58);
/// Create a hypervisor-emulated device: `_IOW(0xA2, 0x59, struct acrn_vdev)`.
pub const ACRN_IOCTL_CREATE_VDEV: u32 = iow::<Vdev>(ACRN_IOCTL_TYPE, 0x59);
/// Destroy a hypervisor-emulated device: `_IOW(0xA2, 0x5A, struct acrn_vdev)`.
pub const ACRN_IOCTL_DESTROY_VDEV: u32 = iow::<Vdev>(ACRN_IOCTL_TYPE, 0x5A);
/// Query P/C states (argument: `u64` command word, overwritten by the result):
/// `_IOWR(0xA2, 0x60, __u64)`.
pub const ACRN_IOCTL_PM_GET_CPU_STATE: u32 = iowr::<u64>(ACRN_IOCTL_TYPE, 0x60);
/// Add or remove an ioeventfd: `_IOW(0xA2, 0x70, struct acrn_ioeventfd)`.
pub const ACRN_IOCTL_IOEVENTFD: u32 = iow::<Ioeventfd>(ACRN_IOCTL_TYPE, 0x70);
/// Add or remove an irqfd: `_IOW(0xA2, 0x71, struct acrn_irqfd)`.
pub const ACRN_IOCTL_IRQFD: u32 = iow::<Irqfd>(ACRN_IOCTL_TYPE, 0x71);

// ---------------------------------------------------------------------------------------------
// Layout checks (values from Linux 6.12 on x86-64; tests/abi.rs checks them against C)
// ---------------------------------------------------------------------------------------------

macro_rules! assert_layout {
    ($($t:ty => $size:expr, $align:expr;)*) => {
        $(
            const _: () = assert!(core::mem::size_of::<$t>() == $size);
            const _: () = assert!(core::mem::align_of::<$t>() == $align);
        )*
    };
}

assert_layout! {
    MmioRequest => 32, 8;
    PioRequest => 32, 8;
    PciRequest => 48, 8;
    IoRequestReqs => 64, 8;
    IoRequest => 256, 256;
    IoRequestBuffer => 4096, 256;
    IoreqNotify => 8, 4;
    VmCreation => 48, 8;
    GpRegs => 128, 8;
    DescriptorPtr => 16, 1;
    Regs => 288, 8;
    VcpuRegs => 296, 8;
    VmMemmapAddr => 8, 8;
    VmMemmap => 32, 8;
    PtdevIrqIntx => 12, 4;
    PtdevIrq => 20, 4;
    Pcidev => 36, 4;
    MmiodevRes => 32, 8;
    Mmiodev => 104, 8;
    VdevIdFields => 8, 4;
    VdevId => 8, 8;
    Vdev => 192, 8;
    MsiEntry => 16, 8;
    AcpiGenericAddress => 12, 1;
    CstateData => 32, 8;
    PstateData => 48, 8;
    Ioeventfd => 32, 8;
    Irqfd => 24, 8;
}

const _: () = assert!(core::mem::offset_of!(IoRequest, reqs) == 64);
const _: () = assert!(core::mem::offset_of!(IoRequest, processed) == 136);
const _: () = assert!(core::mem::offset_of!(VcpuRegs, vcpu_regs.rip) == 8 + 160);
const _: () = assert!(core::mem::offset_of!(CstateData, latency) == 16);
const _: () = assert!(ACRN_IOCTL_CREATE_VM == 0xc030_a210);
const _: () = assert!(ACRN_IOCTL_SET_VCPU_REGS == 0x4128_a216);
