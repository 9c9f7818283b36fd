//! `Ctx` gathered field by field (the fast renderer's single pass).

use super::{dec, strtoul, Ctx};
use crate::audit::names::Name;
use crate::audit::record::{EXECVE, PATH};
use crate::audit::tables::Machine;

/// `Ctx::new` built as the fields go by, for a renderer that takes each field once: `see`
/// every field before interpreting it, `use_for` before interpreting it. A context value
/// that changes after an interpretation relied on it (a late `arch=`, a repeated `syscall=`,
/// `a0=` after a `socketcall`) makes the record `stale`: the caller renders it again with
/// `Ctx::new`, whose values are the record's last ones.
#[derive(Clone, Copy, Debug, Default)]
pub struct CtxTrack {
    pub ctx: Ctx,
    on: bool,
    used_sys: bool,
    used_a0: bool,
    used_a1: bool,
    pub stale: bool,
}

impl CtxTrack {
    #[inline]
    pub fn new(rtype: u32) -> CtxTrack {
        CtxTrack {
            ctx: Ctx {
                rtype,
                ..Ctx::default()
            },
            on: rtype != EXECVE && rtype != PATH,
            ..CtxTrack::default()
        }
    }

    /// Takes field `id` (`raw`) into the context, as `Ctx::new` does, and notes what
    /// interpreting it reads of the context.
    #[inline(always)]
    pub fn see(&mut self, id: Name, raw: &[u8]) {
        if !self.on || !id.is_context() {
            return;
        }
        self.see_context(id, raw);
    }

    // The order `see_context` counts on (names.rs keeps them together).
    const CONTEXT_ORDER: () = {
        let s = Name::Syscall as u8;
        assert!(Name::Arch as u8 == s + 1 && Name::A0 as u8 == s + 2 && Name::A1 as u8 == s + 3);
        assert!(Name::A2 as u8 == s + 4 && Name::A3 as u8 == s + 5);
    };

    // Not a `match` on `id`, nor a chain of `==` (compiled to the same thing): a jump table
    // whose target changes at every field, mispredicted nearly every time. Ranges of the
    // names' numbers instead, and a0/a1 share their code.
    fn see_context(&mut self, id: Name, raw: &[u8]) {
        let c = &mut self.ctx;
        // 0 syscall, 1 arch, 2 a0, 3 a1, 4 a2, 5 a3 (`Name::is_context`'s range).
        let () = Self::CONTEXT_ORDER;
        let k = (id as u8).wrapping_sub(Name::Syscall as u8);
        if k >= 2 {
            self.used_sys = true;
            if k < 4 {
                let n = strtoul(raw, 16);
                let (v, used) = if k == 2 {
                    (&mut c.a0, self.used_a0)
                } else {
                    (&mut c.a1, self.used_a1)
                };
                self.stale |= used && n != *v;
                *v = n;
            } else if k == 4 {
                self.used_a1 = true;
            }
        } else if k == 1 {
            let (machine, unknown) = match strtoul(raw, 16) {
                Some(v) => {
                    let m = Machine::from_audit_arch(v);
                    (m, m.is_none())
                }
                None => (c.machine, true),
            };
            self.stale |= self.used_sys && (machine != c.machine || unknown != c.arch_unknown);
            c.machine = machine;
            c.arch_unknown = unknown;
        } else {
            let n = dec(raw).and_then(|v| u32::try_from(v).ok());
            self.stale |= self.used_sys && n != c.syscall;
            c.syscall = n;
            self.used_sys = true;
            if matches!(c.syscall_name(), Some("socketcall" | "ipc")) {
                self.used_a0 = true;
            }
        }
    }

    /// After a stale pass: the context is final (every field was seen), keep it as it is.
    pub fn freeze(&mut self) {
        self.on = false;
        self.stale = false;
    }
}
