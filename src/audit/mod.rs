//! Audit logs: auditd's raw record lines -> one event per audit event (`letrace audit parse`).
//!
//! `record` splits a line into header and fields (pure, no allocation on the common path),
//! `interp` interprets field values as auparse does, `coalesce` groups records into events,
//! `event` turns a group into a `crate::event::Event`, `parse` drives files through it all.
//! Schema, grouping rule and the differences from auparse: docs/audit.md.

mod ahead;
mod batch;
pub mod cli;
pub mod coalesce;
#[cfg(test)]
mod corpus_files;
mod decoders;
pub mod event;
mod fast;
mod frags;
mod gap;
pub mod interp;
pub mod json;
mod keyindex;
mod lines;
mod names;
pub mod parse;
mod pipe;
pub mod plugin;
mod recache;
pub mod record;
mod rtype;
mod shapes;
mod stamp;
mod summary;
mod swar;
mod sysargs;
pub mod tables;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot open: {source} (check the path and that you may read it)")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: read failed: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sink(#[from] crate::sink::Error),
    #[error("cannot start the writer thread: {0}")]
    Thread(std::io::Error),
    #[error("the writer thread crashed (a bug: please report it)")]
    WriterPanicked,
}
