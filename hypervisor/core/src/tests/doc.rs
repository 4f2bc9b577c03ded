// SPDX-License-Identifier: GPL-2.0

//! `Documentation/hypervisor.rst` lists every hypercall with its status: it must match
//! [`HYPERCALLS`].

use crate::hypercall::{HcStatus, HYPERCALLS};

const DOC: &str = include_str!("../../../../Documentation/hypervisor.rst");

#[test]
fn hypercall_table_matches_the_documentation() {
    let mut rows = 0;
    for h in HYPERCALLS {
        let key = format!("{:#010x} HC_{} ", h.id, h.name);
        let line = DOC
            .lines()
            .find(|l| l.starts_with(&key))
            .unwrap_or_else(|| panic!("no row for {key} in Documentation/hypervisor.rst"));
        let status = line[key.len()..].trim();
        match h.status {
            HcStatus::Implemented => assert_eq!(status, "done", "{}", h.name),
            HcStatus::NotYet(note) => assert!(
                status.starts_with("-ENOTTY") && (status.contains(note) || h.permission_flags != 0),
                "{}: '{status}'",
                h.name
            ),
            HcStatus::NoDispatchEntry => assert!(status.starts_with("-ENOTTY"), "{}", h.name),
        }
        rows += 1;
    }
    let documented = DOC.lines().filter(|l| l.starts_with("0x800000")).count();
    assert_eq!(
        rows, documented,
        "rows in the documentation but not in HYPERCALLS"
    );
}
