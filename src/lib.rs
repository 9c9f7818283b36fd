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
