// SPDX-License-Identifier: GPL-2.0

//! The e820 map the Service VM gets: the firmware map with hypervisor memory cut out of
//! RAM and listed as reserved instead (ACRN `create_service_vm_e820`). Reserved, not
//! absent, so that Linux does not pick the range as a gap for PCI resources. The same
//! holes are left out of the Service VM's nested page table
//! ([`ServiceVmMemory`](acrn_hv_core::memory::ServiceVmMemory)).

use acrn_hv_core::memory::{E820Entry, E820_TYPE_RAM};

/// e820 type of reserved memory.
pub const E820_TYPE_RESERVED: u32 = 2;

/// Writes the Service VM map into `out` and returns the number of entries, sorted by
/// address. `holes` are page-aligned `[start, end)` ranges. Entries that do not fit in
/// `out` are dropped (the caller sizes `out` for Linux's 128).
pub fn service_vm_e820(fw: &[E820Entry], holes: &[(u64, u64)], out: &mut [E820Entry]) -> usize {
    let mut n = 0;
    let mut push = |e: E820Entry, n: &mut usize| {
        if e.size != 0 && *n < out.len() {
            out[*n] = e;
            *n += 1;
        }
    };
    for e in fw {
        if e.kind != E820_TYPE_RAM {
            push(*e, &mut n);
            continue;
        }
        let end = e.addr.saturating_add(e.size);
        let mut pos = e.addr;
        // Holes are few and may come in any order: cut the lowest remaining one each time.
        loop {
            let next = holes
                .iter()
                .filter(|&&(hs, he)| he > pos && hs < end)
                .min_by_key(|&&(hs, _)| hs);
            let Some(&(hs, he)) = next else { break };
            if hs > pos {
                push(
                    E820Entry {
                        addr: pos,
                        size: hs - pos,
                        kind: E820_TYPE_RAM,
                    },
                    &mut n,
                );
            }
            pos = pos.max(he);
        }
        if pos < end {
            push(
                E820Entry {
                    addr: pos,
                    size: end - pos,
                    kind: E820_TYPE_RAM,
                },
                &mut n,
            );
        }
    }
    for &(hs, he) in holes {
        push(
            E820Entry {
                addr: hs,
                size: he - hs,
                kind: E820_TYPE_RESERVED,
            },
            &mut n,
        );
    }
    out[..n].sort_unstable_by_key(|e| e.addr);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn e(addr: u64, size: u64, kind: u32) -> E820Entry {
        E820Entry { addr, size, kind }
    }

    #[test]
    fn hole_cut_from_ram_and_reserved() {
        let fw = [
            e(0, 0x9fc00, 1),
            e(0xf0000, 0x10000, 2),
            e(0x10_0000, 0x7fee_0000, 1),
        ];
        let mut out = [E820Entry::default(); 16];
        let n = service_vm_e820(&fw, &[(0x1000_0000, 0x1080_0000)], &mut out);
        assert_eq!(
            &out[..n],
            &[
                e(0, 0x9fc00, 1),
                e(0xf0000, 0x10000, 2),
                e(0x10_0000, 0x0ff0_0000, 1),
                e(0x1000_0000, 0x80_0000, 2),
                e(0x1080_0000, 0x7ffe_0000 - 0x1080_0000, 1),
            ]
        );
    }

    #[test]
    fn two_holes_in_one_entry_and_at_edges() {
        let fw = [e(0x1000, 0x9000, 1)];
        let mut out = [E820Entry::default(); 16];
        let n = service_vm_e820(&fw, &[(0x8000, 0xa000), (0x1000, 0x2000)], &mut out);
        assert_eq!(
            &out[..n],
            &[
                e(0x1000, 0x1000, 2),
                e(0x2000, 0x6000, 1),
                e(0x8000, 0x2000, 2)
            ]
        );
    }

    #[test]
    fn overflow_is_truncated() {
        let fw = [e(0, 0x1000, 1), e(0x2000, 0x1000, 1), e(0x4000, 0x1000, 1)];
        let mut out = [E820Entry::default(); 2];
        assert_eq!(service_vm_e820(&fw, &[], &mut out), 2);
    }
}
