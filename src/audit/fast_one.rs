//! One field of `render_fast`'s loop: interpreted, written to `audit.records` and given to
//! the summary.

use std::borrow::Cow;

use super::{PathSum, Sum, F};
use crate::audit::event::JsonSink;
use crate::audit::interp::{self, Ctx, Interp, Kind};
use crate::audit::names::Name;
use crate::audit::recache::Rec;
use crate::audit::record::{self, Field};

/// What one record's fields share in `render_fast`'s loop.
pub(super) struct One<'e, 'a> {
    pub rtype: u32,
    pub first_proc: bool,
    pub enriched: &'e [record::Enriched<'a>],
    /// `record::enriched_names(enriched)`.
    pub enriched_names: u128,
}

impl<'a> One<'_, 'a> {
    /// Interprets field `f` (`id`), writes it and gives it to the summary (with `only_ctx`,
    /// only when its value depends on the context).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn field<R: Rec>(
        &self,
        ctx: &Ctx,
        id: Name,
        kind: Kind,
        f: Field<'a>,
        pre: Option<(&[u8; 24], usize)>,
        only_ctx: bool,
        scratch: &mut Vec<u8>,
        sink: &mut JsonSink<'_>,
        sum: &mut Sum<'a, '_>,
        path: &mut Option<PathSum<'a>>,
        rec: &mut R,
    ) {
        let feed = !only_ctx || id.is_context();
        // Only a field the enrichment may translate takes its lookup (`interpret_kind_in`
        // answers most fields inline when there is none).
        let enriched = if !self.enriched.is_empty() && self.enriched_names >> (id as u8) & 1 != 0 {
            self.enriched
        } else {
            &[]
        };
        match f.raw {
            // The common case: the value is a slice of the log, and so is what the
            // summary keeps of it.
            Cow::Borrowed(r) => {
                let it = interp::interpret_kind_in(ctx, kind, id, f.name, r, enriched, scratch);
                let (value, value_at): (&[u8], _) = match it {
                    Interp::Same => (r, Some(r)),
                    Interp::At(v) => (v, Some(v)),
                    Interp::Buf => (scratch, None),
                };
                let interp = (it != Interp::Same).then_some(value);
                match pre {
                    Some((p, n)) => sink.field_pre(p, n, f.name, r, interp),
                    None => sink.field_json(id != Name::Other, f.name, r, interp),
                }
                if feed {
                    let fv = F {
                        rtype: self.rtype,
                        id,
                        name: f.name,
                        raw: r,
                        value,
                        value_at,
                    };
                    sum.field(&fv, self.first_proc, path, &R::borrowed);
                    rec.field(self.rtype, id, f.name, r, value, value_at.is_some());
                }
            }
            Cow::Owned(o) => {
                let it = interp::interpret_kind_in(ctx, kind, id, f.name, &o, enriched, scratch);
                let value: &[u8] = match it {
                    Interp::Same => &o,
                    Interp::At(v) => v,
                    Interp::Buf => scratch,
                };
                sink.field_json(
                    id != Name::Other,
                    f.name,
                    &o,
                    (it != Interp::Same).then_some(value),
                );
                if feed {
                    let fv = F {
                        rtype: self.rtype,
                        id,
                        name: f.name,
                        raw: &o,
                        value,
                        value_at: None,
                    };
                    sum.field(&fv, self.first_proc, path, &|s: &[u8]| {
                        Cow::Owned(s.to_vec())
                    });
                    rec.field(self.rtype, id, f.name, &o, value, false);
                }
            }
        }
    }
}
