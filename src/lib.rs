//! letrace: Event Tracing for Linux. See DESIGN.md for the architecture: sources decode kernel
//! bytes into [`event::Event`]s, a bounded queue carries them to the [`pipeline`], which writes
//! them through [`encode`]rs to [`sink`]s.

pub mod audit;
pub mod cli;
pub mod doctor;
pub mod encode;
pub mod event;
pub mod pipeline;
pub mod proctable;
pub mod record;
pub mod sink;
pub mod source;
pub mod sys;
pub mod text;

/// Events are built on a source's thread and freed on the pipeline's: glibc malloc pays for
/// every such cross-thread free (arena locks, consolidation), a quarter of letrace's CPU at
/// bpf event rates; mimalloc does not. Set here, not in main.rs, so that tests and benchmarks
/// measure the allocator the binary runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
