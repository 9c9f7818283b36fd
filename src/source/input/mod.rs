//! `input` / `input:PATH`: evdev events. The thin part: which devices to read, hotplug,
//! reading; decoding is in `decode`, names in `codes`/`keys`, ioctls in `device`.
//!
//! - `input`: every `/dev/input/event*` now and any that appears later (inotify on
//!   /dev/input, or on /dev until /dev/input exists). No devices is not an error: letrace says
//!   so on stderr and waits for one.
//! - `input:DIR`: the same for the `event*` entries of another directory.
//! - `input:/dev/input/eventN`: one device. `input:FIFO`, `input:FILE`: raw `input_event`
//!   records written by another program or recorded earlier (a file is read once, to its end).

pub mod codes;
pub mod decode;
mod device;
pub mod keys;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use inotify::{Inotify, WatchDescriptor, WatchMask};

use self::decode::{Decoder, DeviceInfo, Note, Reassembler, RECORD};
use self::device::Kind;
use super::{Source, Stop};
use crate::event::{Bytes, Event, Map, SourceKind, Value};
use crate::pipeline::{Closed, Emitter};

pub const DEV_INPUT: &str = "/dev/input";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("input:{path}: no such file or directory; name an evdev device (/dev/input/eventN), a FIFO or file of input_event records, or a directory")]
    Missing { path: String },
    #[error("input:{path}: permission denied; run as root or add the user to the `input` group")]
    Permission { path: String },
    #[error("input:{path}: cannot open: {err}")]
    Open { path: String, err: io::Error },
    #[error("input:{path}: is not a character device, FIFO, regular file or directory")]
    Unsupported { path: String },
    #[error("input: cannot watch {path} for new devices: {err}")]
    Watch { path: String, err: io::Error },
    #[error("input: reading events failed: {0}")]
    Read(io::Error),
}

/// Whether `input` (all devices) can run here, for `letrace doctor` and `record` start-up.
/// No devices is not a failure: `input` then waits for one to appear.
pub fn probe() -> crate::doctor::Probe {
    use crate::doctor::{Probe, Status};
    let k = SourceKind::Input;
    let names = event_entries(Path::new(DEV_INPUT)).unwrap_or_default();
    if names.is_empty() {
        return Probe::new(
            k,
            Status::Degraded,
            format!("no {DEV_INPUT}/event* devices now (a VM or container without keyboard or mouse); `input` waits for one to appear"),
        )
        .fix("attach a device, or record input:FIFO / input:FILE of raw input_event records");
    }
    let mut denied = None;
    for p in &names {
        match device::open(p, Kind::Evdev) {
            Ok(_) => {
                return Probe::new(
                    k,
                    Status::Ok,
                    format!("{} evdev devices, readable", names.len()),
                )
            }
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => denied = Some(p.clone()),
            Err(_) => {}
        }
    }
    match denied {
        Some(p) => Probe::new(
            k,
            Status::No,
            format!("cannot open {}: permission denied", p.display()),
        )
        .fix("run as root or add the user to the `input` group"),
        None => Probe::new(
            k,
            Status::No,
            format!(
                "none of the {} devices in {DEV_INPUT} can be opened",
                names.len()
            ),
        )
        .fix("check the devices' permissions and that evdev is loaded"),
    }
}

/// `DIR/event*`, sorted.
fn event_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| is_event_name(e.file_name().as_bytes()))
        .map(|e| e.path())
        .collect();
    v.sort();
    Ok(v)
}

fn is_event_name(n: &[u8]) -> bool {
    n.starts_with(b"event")
}

fn shown(p: &Path) -> String {
    crate::text::escape(p.as_os_str().as_bytes()).into_owned()
}

struct Dev {
    fd: OwnedFd,
    kind: Kind,
    dec: Decoder,
    asm: Reassembler,
    id: Option<[u16; 4]>,
}

/// Watches a directory for devices that appear, or its parent until the directory exists.
struct DirWatch {
    ino: Inotify,
    dir: PathBuf,
    dir_wd: Option<WatchDescriptor>,
}

const DIR_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::ATTRIB)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM);

pub struct InputSource {
    devs: Vec<Dev>,
    watch: Option<DirWatch>,
    redact: bool,
    /// Devices opened before `run`, reported as DEVICE_ADDED when it starts.
    fresh: usize,
}

impl InputSource {
    /// `path` None: all of /dev/input. Opens everything now so errors show at start-up.
    pub fn open(path: Option<&Path>, redact: bool) -> Result<Self, super::Error> {
        let mut src = InputSource {
            devs: Vec::new(),
            watch: None,
            redact,
            fresh: 0,
        };
        let path = path.unwrap_or(Path::new(DEV_INPUT));
        let is_dir = match std::fs::metadata(path) {
            Ok(m) => m.is_dir(),
            // /dev/input itself may appear later (first device plugged in).
            Err(e) if e.kind() == io::ErrorKind::NotFound && path == Path::new(DEV_INPUT) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::Missing { path: shown(path) }.into())
            }
            Err(err) => {
                return Err(Error::Open {
                    path: shown(path),
                    err,
                }
                .into())
            }
        };
        if is_dir {
            src.watch_dir(path)?;
            let mut denied = None;
            for p in event_entries(path).unwrap_or_default() {
                match src.add(&p) {
                    Ok(()) => {}
                    Err(Error::Permission { path }) => denied = Some(path),
                    Err(e) => eprintln!("letrace: warning: {e}"),
                }
            }
            if let (Some(path), true) = (&denied, src.devs.is_empty()) {
                return Err(Error::Permission { path: path.clone() }.into());
            }
            if src.devs.is_empty() {
                eprintln!(
                    "letrace: input: no input devices in {} yet; waiting for one to appear",
                    shown(path)
                );
            }
        } else {
            src.add(path)?;
        }
        src.fresh = src.devs.len();
        Ok(src)
    }

    fn watch_dir(&mut self, dir: &Path) -> Result<(), Error> {
        let werr = |p: &Path, err| Error::Watch {
            path: shown(p),
            err,
        };
        let ino = Inotify::init().map_err(|e| werr(dir, e))?;
        let mut w = DirWatch {
            ino,
            dir: dir.to_path_buf(),
            dir_wd: None,
        };
        match w.ino.watches().add(dir, DIR_MASK) {
            Ok(wd) => w.dir_wd = Some(wd),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let parent = dir.parent().unwrap_or(Path::new("/"));
                w.ino
                    .watches()
                    .add(parent, WatchMask::CREATE | WatchMask::MOVED_TO)
                    .map_err(|e| werr(parent, e))?;
            }
            Err(e) => return Err(werr(dir, e)),
        }
        self.watch = Some(w);
        Ok(())
    }

    fn add(&mut self, path: &Path) -> Result<(), Error> {
        let err = |err: io::Error| match err.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => Error::Permission { path: shown(path) },
            Some(libc::ENOENT) => Error::Missing { path: shown(path) },
            _ => Error::Open {
                path: shown(path),
                err,
            },
        };
        let kind = device::kind_of(path)
            .map_err(err)?
            .ok_or(Error::Unsupported { path: shown(path) })?;
        let fd = device::open(path, kind).map_err(err)?;
        let (name, id) = match kind {
            Kind::Evdev => (device::name(&fd), device::id(&fd)),
            Kind::Fifo | Kind::File => (None, None),
        };
        let info = DeviceInfo {
            path: path.as_os_str().as_bytes().to_vec(),
            name,
        };
        self.devs.push(Dev {
            fd,
            kind,
            dec: Decoder::new(info, self.redact),
            asm: Reassembler::default(),
            id,
        });
        Ok(())
    }

    fn has(&self, path: &[u8]) -> bool {
        self.devs.iter().any(|d| d.dec.device.path == path)
    }

    /// Handles what the directory watch reports: devices appearing or going away.
    fn on_dir_events(&mut self, out: &mut Emitter) -> Result<(), Closed> {
        let Some(w) = self.watch.as_mut() else {
            return Ok(());
        };
        let mut buf = [0u8; 4096];
        let mut appeared = Vec::new();
        let mut gone = Vec::new();
        let mut dir_created = false;
        let mut dir_gone = false;
        while let Ok(events) = w.ino.read_events(&mut buf) {
            let mut any = false;
            for e in events {
                any = true;
                if Some(&e.wd) == w.dir_wd.as_ref() && e.mask.contains(inotify::EventMask::IGNORED)
                {
                    // The directory itself went away: wait for it to come back.
                    dir_gone = true;
                    continue;
                }
                let Some(name) = e.name else { continue };
                if Some(&e.wd) != w.dir_wd.as_ref() {
                    // The parent: has the directory itself appeared?
                    dir_created |= Some(name) == w.dir.file_name();
                    continue;
                }
                if !is_event_name(name.as_bytes()) {
                    continue;
                }
                let p = w.dir.join(name);
                if e.mask
                    .intersects(inotify::EventMask::DELETE | inotify::EventMask::MOVED_FROM)
                {
                    gone.push(p);
                } else {
                    appeared.push(p);
                }
            }
            if !any {
                break;
            }
        }
        if dir_gone {
            w.dir_wd = None;
            let parent = w.dir.parent().unwrap_or(Path::new("/")).to_path_buf();
            if let Err(e) = w
                .ino
                .watches()
                .add(&parent, WatchMask::CREATE | WatchMask::MOVED_TO)
            {
                let msg = format!("input: {} was removed and its parent cannot be watched ({e}): new devices will not be seen", shown(&w.dir));
                out.emit_wait(Event::error(msg))?;
            }
        }
        if dir_created && w.dir_wd.is_none() {
            if let Ok(wd) = w.ino.watches().add(&w.dir, DIR_MASK) {
                w.dir_wd = Some(wd);
                appeared.extend(event_entries(&w.dir).unwrap_or_default());
            }
        }
        for p in gone {
            let key = p.as_os_str().as_bytes().to_vec();
            if let Some(i) = self.devs.iter().position(|d| d.dec.device.path == key) {
                self.read_dev(i, out, usize::MAX)?;
                self.remove(i, "deleted", out)?;
            }
        }
        for p in appeared {
            if self.has(p.as_os_str().as_bytes()) {
                continue;
            }
            match self.add(&p) {
                Ok(()) => out.emit_wait(self.added_event(self.devs.len() - 1))?,
                // Created root-only, made readable by udev a moment later (IN_ATTRIB).
                Err(Error::Permission { .. }) | Err(Error::Missing { .. }) => {}
                Err(e) => out.emit_wait(Event::error(e.to_string()))?,
            }
        }
        Ok(())
    }

    fn added_event(&self, i: usize) -> Event {
        let d = &self.devs[i];
        let mut ev = Event::new(SourceKind::Input, "DEVICE_ADDED");
        let mut m = device_map(&d.dec.device);
        m.insert("file_type", d.kind.as_str());
        if let Some([bus, vendor, product, version]) = d.id {
            m.insert("bustype", u32::from(bus));
            m.insert("vendor", u32::from(vendor));
            m.insert("product", u32::from(product));
            m.insert("version", u32::from(version));
        }
        ev.extra.insert("input", m);
        ev
    }

    fn remove(&mut self, i: usize, reason: &'static str, out: &mut Emitter) -> Result<(), Closed> {
        let d = self.devs.remove(i);
        let mut ev = Event::new(SourceKind::Input, "DEVICE_REMOVED");
        let mut m = device_map(&d.dec.device).with("reason", reason);
        if d.asm.pending() > 0 {
            // The stream ended inside a record: those bytes are not an event.
            m.insert("partial_record_bytes", d.asm.pending() as u64);
        }
        ev.extra.insert("input", m);
        // Device comings and goings are rare and matter: they wait for room.
        out.emit_wait(ev)
    }

    /// Reads up to `max_reads` buffers from device `i`. Returns false when the device is
    /// gone (and has been removed).
    fn read_dev(&mut self, i: usize, out: &mut Emitter, max_reads: usize) -> Result<bool, Closed> {
        let mut buf = [0u8; RECORD * 256];
        for _ in 0..max_reads {
            let d = &mut self.devs[i];
            let n = match crate::sys::read(d.fd.as_raw_fd(), &mut buf) {
                Ok(Some(0)) => {
                    self.remove(i, "end of file", out)?;
                    return Ok(false);
                }
                Ok(Some(n)) => n,
                Ok(None) => return Ok(true),
                Err(e) => {
                    let reason = if e.raw_os_error() == Some(libc::ENODEV) {
                        "unplugged"
                    } else {
                        "read error"
                    };
                    if reason == "read error" {
                        out.emit_wait(Event::error(format!(
                            "input: reading {}: {e}",
                            crate::text::escape(&d.dec.device.path)
                        )))?;
                    }
                    self.remove(i, reason, out)?;
                    return Ok(false);
                }
            };
            let mut evs = Vec::new();
            let mut resync = false;
            let dec = &mut d.dec;
            d.asm.push(&buf[..n], |raw| {
                let (ev, note) = dec.decode(&raw);
                resync |= note == Note::ResyncNow;
                evs.push(ev);
            });
            for ev in evs {
                // A device cannot wait (its kernel buffer would overflow, SYN_DROPPED); a
                // file or FIFO can, so it is never a reason to drop.
                match d.kind {
                    Kind::Evdev => out.emit(ev)?,
                    Kind::Fifo | Kind::File => out.emit_wait(ev)?,
                }
            }
            if resync && d.kind == Kind::Evdev {
                if let Some(ev) = key_state_event(d, self.redact) {
                    out.emit_wait(ev)?;
                }
            }
        }
        Ok(true)
    }
}

fn device_map(info: &DeviceInfo) -> Map {
    let mut m = Map::new().with("device", Bytes(info.path.clone()));
    if let Some(n) = &info.name {
        m.insert("device_name", Bytes(n.clone()));
    }
    m
}

/// After a SYN_DROPPED on a real device: the keys held down now (EVIOCGKEY), so a reader
/// knows the state the lost events would have told it.
fn key_state_event(d: &Dev, redact: bool) -> Option<Event> {
    let down = device::keys_down(&d.fd)?;
    let mut ev = Event::new(SourceKind::Input, "KEY_STATE");
    let mut m = device_map(&d.dec.device).with("held", down.len() as u64);
    if !redact {
        let names = down
            .iter()
            .map(|&c| Value::from(codes::code_label(codes::EV_KEY, c)))
            .collect();
        m.insert("keys", Value::List(names));
    }
    ev.extra.insert("input", m);
    Some(ev)
}

impl Source for InputSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Input
    }

    fn run(mut self: Box<Self>, out: &mut Emitter, stop: &Stop) -> Result<(), super::Error> {
        for i in 0..self.fresh {
            if out.emit_wait(self.added_event(i)).is_err() {
                return Ok(());
            }
        }
        loop {
            if self.devs.is_empty() && self.watch.is_none() {
                return Ok(()); // every file read to its end
            }
            let mut fds = vec![stop.fd()];
            if let Some(w) = &self.watch {
                fds.push(w.ino.as_raw_fd());
            }
            let first_dev = fds.len();
            fds.extend(self.devs.iter().map(|d| d.fd.as_raw_fd()));
            let rev = crate::sys::poll(&fds, -1).map_err(Error::Read)?;
            let stopping = rev[0] != 0;
            let ready: Vec<bool> = rev[first_dev..].iter().map(|&r| r != 0).collect();
            // Back to front, so removing a device does not shift the ones still to read.
            for i in (0..ready.len()).rev() {
                // On stop, drain what devices and FIFOs already hold (a file is not a queue:
                // its rest is simply not read); otherwise take turns.
                let max = match (stopping, self.devs[i].kind) {
                    (true, Kind::File) => continue,
                    // Bounded: a writer that never pauses must not keep letrace from stopping.
                    (true, _) => 1024,
                    (false, _) => 16,
                };
                if (ready[i] || stopping) && self.read_dev(i, out, max).is_err() {
                    return Ok(());
                }
            }
            if stopping {
                return Ok(());
            }
            if first_dev == 2 && rev[1] != 0 && self.on_dir_events(out).is_err() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Spec;

    #[test]
    fn spec_with_and_without_a_path() {
        assert_eq!(Spec::parse("input").unwrap(), Spec::Input { path: None });
        assert_eq!(
            Spec::parse("input:/dev/input/event3").unwrap(),
            Spec::Input {
                path: Some("/dev/input/event3".into())
            }
        );
    }

    #[test]
    fn probe_explains_a_machine_without_devices() {
        if event_entries(Path::new(DEV_INPUT)).is_ok_and(|v| !v.is_empty()) {
            return; // has devices: the answer depends on permissions
        }
        let p = probe();
        // Not an error: `input` waits for a device; the fix names the FIFO alternative.
        assert_eq!(p.status, crate::doctor::Status::Degraded);
        assert!(p.detail.contains("waits for one to appear"), "{p:?}");
        assert!(p.reason().contains("input:FIFO"), "{p:?}");
    }

    #[test]
    fn evdev_ioctl_numbers_match_linux() {
        // EVIOCGNAME(256), EVIOCGID, EVIOCGKEY(96) as the C macros expand on x86_64.
        assert_eq!(device::eviocg(0x06, 256), 0x8100_4506);
        assert_eq!(device::eviocg(0x02, 8), 0x8008_4502);
        assert_eq!(device::eviocg(0x18, 96), 0x8060_4518);
    }
}
