//! An executable's first bytes → what it was built for: ELF's `e_machine`, PE's `Machine`.
//! `config check --bin-dir` compares it with this machine: an arm64 provider on an x86_64 node
//! is a kubelet whose every exec fails. Pure: bytes in; anything else (a script) says nothing.

use std::fmt;

/// Enough for either header: ELF's is in its first 20 bytes, PE's wherever the DOS header
/// points, which linkers keep well inside the first page.
pub(crate) const HEAD_BYTES: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Linux and the other Unixes.
    Elf,
    /// Windows.
    Pe,
}

/// What an executable was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Binary {
    pub(crate) format: Format,
    /// `e_machine` or `Machine`, as written.
    pub(crate) machine: u16,
    /// ELF's class (PE tells it by the machine).
    pub(crate) bits64: bool,
}

impl Binary {
    /// The header at the start of `head`, if it is an ELF or PE one.
    pub(crate) fn parse(head: &[u8]) -> Option<Self> {
        let u16_at = |at: usize, big_endian: bool| {
            let bytes: [u8; 2] = head.get(at..at + 2)?.try_into().ok()?;
            Some(if big_endian {
                u16::from_be_bytes(bytes)
            } else {
                u16::from_le_bytes(bytes)
            })
        };
        if head.starts_with(b"\x7fELF") {
            return Some(Self {
                format: Format::Elf,
                machine: u16_at(18, *head.get(5)? == 2)?,
                bits64: *head.get(4)? == 2,
            });
        }
        if head.starts_with(b"MZ") {
            let pe: [u8; 4] = head.get(0x3c..0x40)?.try_into().ok()?;
            let pe = usize::try_from(u32::from_le_bytes(pe)).ok()?;
            if head.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
                return None;
            }
            let machine = u16_at(pe + 4, false)?;
            return Some(Self {
                format: Format::Pe,
                machine,
                bits64: matches!(machine, 0x8664 | 0xaa64 | 0x6264 | 0x5064),
            });
        }
        None
    }

    /// The architecture, in `std::env::consts::ARCH`'s words, if it is one of those.
    pub(crate) fn arch(self) -> Option<&'static str> {
        let arch = match (self.format, self.machine, self.bits64) {
            (Format::Elf, 3, _) | (Format::Pe, 0x14c, _) => "x86",
            (Format::Elf, 62, _) | (Format::Pe, 0x8664, _) => "x86_64",
            (Format::Elf, 40, _) | (Format::Pe, 0x1c0 | 0x1c4, _) => "arm",
            (Format::Elf, 183, _) | (Format::Pe, 0xaa64, _) => "aarch64",
            (Format::Elf, 243, true) | (Format::Pe, 0x5064, _) => "riscv64",
            (Format::Elf, 258, _) | (Format::Pe, 0x6264, _) => "loongarch64",
            (Format::Elf, 20, _) => "powerpc",
            (Format::Elf, 21, _) => "powerpc64",
            (Format::Elf, 22, true) => "s390x",
            (Format::Elf, 8, false) => "mips",
            (Format::Elf, 8, true) => "mips64",
            (Format::Elf, 43, _) => "sparc64",
            _ => return None,
        };
        Some(arch)
    }

    /// Whether a machine of architecture `arch` runs it: `None` when that cannot be told
    /// (an architecture this table does not know).
    pub(crate) fn runs_on(self, arch: &str) -> Option<bool> {
        KNOWN.contains(&arch).then(|| self.arch() == Some(arch))
    }
}

/// Every architecture `Binary::arch` names.
const KNOWN: [&str; 12] = [
    "x86",
    "x86_64",
    "arm",
    "aarch64",
    "riscv64",
    "loongarch64",
    "powerpc",
    "powerpc64",
    "s390x",
    "mips",
    "mips64",
    "sparc64",
];

impl fmt::Display for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = match self.format {
            Format::Elf => "an ELF executable",
            Format::Pe => "a Windows (PE) executable",
        };
        match self.arch() {
            Some(arch) => write!(f, "{format} for {arch}"),
            None => write!(f, "{format} for machine {:#x}", self.machine),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF header's first 20 bytes: class, byte order, then `e_machine`.
    fn elf(bits64: bool, big_endian: bool, machine: u16) -> Vec<u8> {
        let mut head = b"\x7fELF".to_vec();
        head.extend([
            if bits64 { 2 } else { 1 },
            if big_endian { 2 } else { 1 },
            1,
        ]);
        head.resize(18, 0);
        if big_endian {
            head.extend(machine.to_be_bytes());
        } else {
            head.extend(machine.to_le_bytes());
        }
        head.resize(64, 0);
        head
    }

    fn pe(machine: u16) -> Vec<u8> {
        let mut head = b"MZ".to_vec();
        head.resize(0x3c, 0);
        head.extend(0x80u32.to_le_bytes());
        head.resize(0x80, 0);
        head.extend(b"PE\0\0");
        head.extend(machine.to_le_bytes());
        head.resize(0x200, 0);
        head
    }

    #[test]
    fn elf_and_pe_headers_name_their_architecture() {
        let table: [(Vec<u8>, Option<&str>, &str); 9] = [
            (
                elf(true, false, 62),
                Some("x86_64"),
                "an ELF executable for x86_64",
            ),
            (
                elf(true, false, 183),
                Some("aarch64"),
                "an ELF executable for aarch64",
            ),
            (
                elf(false, false, 40),
                Some("arm"),
                "an ELF executable for arm",
            ),
            (
                elf(true, true, 22),
                Some("s390x"),
                "an ELF executable for s390x",
            ),
            (
                elf(true, false, 243),
                Some("riscv64"),
                "an ELF executable for riscv64",
            ),
            (
                elf(true, false, 0x9999),
                None,
                "an ELF executable for machine 0x9999",
            ),
            (
                pe(0x8664),
                Some("x86_64"),
                "a Windows (PE) executable for x86_64",
            ),
            (
                pe(0xaa64),
                Some("aarch64"),
                "a Windows (PE) executable for aarch64",
            ),
            (pe(0x14c), Some("x86"), "a Windows (PE) executable for x86"),
        ];
        for (head, arch, shown) in table {
            let binary = Binary::parse(&head).unwrap();
            assert_eq!(binary.arch(), arch, "{shown}");
            assert_eq!(binary.to_string(), shown);
        }
        let arm64 = Binary::parse(&elf(true, false, 183)).unwrap();
        assert_eq!(arm64.runs_on("x86_64"), Some(false));
        assert_eq!(arm64.runs_on("aarch64"), Some(true));
        assert_eq!(arm64.runs_on("m68k"), None);
    }

    #[test]
    fn anything_else_says_nothing() {
        for head in [
            &b"#!/bin/sh\nexec /usr/bin/true\n"[..],
            b"",
            b"\x7fELF\x02\x01",
            b"MZ",
            &pe(0x8664)[..0x82],
        ] {
            assert_eq!(Binary::parse(head), None, "{head:?}");
        }
        let mut pointing_far = pe(0x8664);
        pointing_far[0x3c..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Binary::parse(&pointing_far), None);
    }
}
