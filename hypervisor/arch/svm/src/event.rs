// SPDX-License-Identifier: GPL-2.0

//! Event injection (`EVENTINJ`, APM vol. 2 §15.20): vector 7:0, type 10:8, error code valid
//! 11, valid 31, error code 63:32. The same format is used by `EXITINTINFO`, so an event
//! that an exit interrupted is re-injected by copying it.

/// Type: external interrupt.
pub const TYPE_INTR: u64 = 0;
/// Type: NMI.
pub const TYPE_NMI: u64 = 2;
/// Type: exception.
pub const TYPE_EXCEPTION: u64 = 3;
/// Type: software interrupt.
pub const TYPE_SOFT_INT: u64 = 4;

const EV: u64 = 1 << 11;
/// Valid bit.
pub const VALID: u64 = 1 << 31;

/// #UD.
pub const UD: u8 = 6;
/// #GP.
pub const GP: u8 = 13;

/// An external interrupt with `vector`.
pub const fn interrupt(vector: u8) -> u64 {
    VALID | (TYPE_INTR << 8) | vector as u64
}

/// An exception without error code.
pub const fn exception(vector: u8) -> u64 {
    VALID | (TYPE_EXCEPTION << 8) | vector as u64
}

/// An exception with an error code.
pub const fn exception_with_code(vector: u8, code: u32) -> u64 {
    VALID | EV | (TYPE_EXCEPTION << 8) | vector as u64 | ((code as u64) << 32)
}

/// #UD.
pub const INJECT_UD: u64 = exception(UD);
/// #GP(0).
pub const INJECT_GP0: u64 = exception_with_code(GP, 0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(INJECT_UD, 0x8000_0306);
        assert_eq!(INJECT_GP0, 0x8000_0b0d);
        assert_eq!(exception_with_code(14, 2), 0x2_8000_0b0e);
    }
}
