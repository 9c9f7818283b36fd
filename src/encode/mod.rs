//! Encoders: one event in, bytes out. Pure functions of the event; where the bytes go is
//! `crate::sink`'s business.

mod csv;
pub mod json;
pub mod jstr;
mod text;
mod xml;

use crate::event::Event;

pub use self::csv::CsvEncoder;
pub use self::json::JsonEncoder;
pub use self::text::TextEncoder;
pub use self::xml::XmlEncoder;

/// Output formats (`-f`, or from an output file's extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
    Csv,
    Text,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("unknown format {0:?}: use json, xml, csv or text")]
    UnknownFormat(String),
    #[error("cannot tell the format of {0:?} from its extension: name it .jsonl, .json, .xml or .csv, or pass -f json|xml|csv|text")]
    UnknownExtension(String),
}

impl Format {
    pub fn from_name(name: &str) -> Result<Format, Error> {
        match name {
            "json" | "jsonl" => Ok(Format::Json),
            "xml" => Ok(Format::Xml),
            "csv" => Ok(Format::Csv),
            "text" => Ok(Format::Text),
            other => Err(Error::UnknownFormat(other.to_string())),
        }
    }

    pub fn from_path(path: &str) -> Result<Format, Error> {
        let ext = std::path::Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        match ext.to_ascii_lowercase().as_str() {
            "jsonl" | "json" | "ndjson" => Ok(Format::Json),
            "xml" => Ok(Format::Xml),
            "csv" => Ok(Format::Csv),
            "txt" | "log" => Ok(Format::Text),
            _ => Err(Error::UnknownExtension(path.to_string())),
        }
    }

    /// The encoder for this format. `color` only matters for text.
    pub fn encoder(self, color: bool) -> Box<dyn Encoder> {
        match self {
            Format::Json => Box::new(JsonEncoder),
            Format::Xml => Box::new(XmlEncoder),
            Format::Csv => Box::new(CsvEncoder),
            Format::Text => Box::new(TextEncoder { color }),
        }
    }
}

/// Turns events into bytes. `header` is written once before the first event and `footer`
/// once at the end, so a file is a complete document only after `footer`.
pub trait Encoder: Send {
    fn header(&self, _out: &mut Vec<u8>) {}
    fn encode(&self, ev: &Event, out: &mut Vec<u8>);
    fn footer(&self, _out: &mut Vec<u8>) {}
    /// JSON lines (`JsonEncoder`): sources may then hand over lines they encoded themselves
    /// (`pipeline::Encoded`).
    fn is_json(&self) -> bool {
        false
    }
}

/// The event as a JSON tree; XML and CSV are derived from it so all formats carry the same
/// fields, escaped the same way (`crate::text`).
fn to_tree(ev: &Event) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(ev) {
        Ok(serde_json::Value::Object(m)) => m,
        // Event serialises to a map of string keys; nothing else can come out.
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod golden;

/// The golden files' awkward events, for other modules' tests.
#[cfg(test)]
pub(crate) fn golden_events() -> Vec<Event> {
    golden::sample_events()
}
