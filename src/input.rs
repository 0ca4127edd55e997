//! Reading an input file whole, safely: it must be a regular file (a FIFO, socket, device or
//! folder is refused at once, before anything could block or stream forever) no larger than
//! a cap ([`crate::limits::MAX_INPUT_BYTES`], [`crate::limits::MAX_RECORD_BYTES`] for run.json).
//! Every file the CLI reads goes through [`read_text`]. Bottom layer: imports only `limits`.

use std::io::Read;
use std::path::Path;

pub use crate::limits::{MAX_INPUT_BYTES, MAX_RECORD_BYTES};

/// Why an input file could not be read; `Display` is one phrase without the path (callers
/// write `PATH: cannot read WHAT: {error}`).
#[derive(Debug)]
pub enum InputError {
    /// Missing, no permission, …
    Io(std::io::Error),
    /// A folder where a file was expected.
    Folder,
    /// A FIFO, socket or device.
    NotRegular(&'static str),
    /// Larger than the cap.
    TooLarge { size: u64, max: u64 },
    /// Not UTF-8 text.
    NotUtf8,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::Io(e) => write!(f, "{e}"),
            InputError::Folder => f.write_str("a folder, not a file"),
            InputError::NotRegular(kind) => write!(f, "a {kind}, not a regular file"),
            InputError::TooLarge { size, max } => {
                write!(f, "{} large, at most {} allowed", human(*size), human(*max))
            }
            InputError::NotUtf8 => f.write_str("not UTF-8 text"),
        }
    }
}

/// `12 MiB`, `700 KiB`, `35 B`.
fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    } else if bytes >= 1 << 10 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

fn kind(meta: &std::fs::Metadata) -> Result<(), InputError> {
    let t = meta.file_type();
    if t.is_dir() {
        return Err(InputError::Folder);
    }
    if t.is_file() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Err(InputError::NotRegular("FIFO (named pipe)"));
        }
        if t.is_socket() {
            return Err(InputError::NotRegular("socket"));
        }
        if t.is_char_device() || t.is_block_device() {
            return Err(InputError::NotRegular("device"));
        }
    }
    Err(InputError::NotRegular("special file"))
}

/// The bytes of a regular file of at most `max` bytes. The type and size are checked on the
/// path first, the file is opened non-blocking (a FIFO swapped in meanwhile cannot block the
/// open), checked again on the open handle, and read no further than `max + 1` bytes.
pub fn read_bytes(path: &Path, max: u64) -> Result<Vec<u8>, InputError> {
    let meta = std::fs::metadata(path).map_err(InputError::Io)?;
    kind(&meta)?;
    if meta.len() > max {
        return Err(InputError::TooLarge {
            size: meta.len(),
            max,
        });
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(InputError::Io)?;
    kind(&file.metadata().map_err(InputError::Io)?)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(InputError::Io)?;
    if bytes.len() as u64 > max {
        return Err(InputError::TooLarge {
            size: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

/// The UTF-8 text of a regular file of at most `max` bytes (see [`read_bytes`]).
pub fn read_text(path: &Path, max: u64) -> Result<String, InputError> {
    String::from_utf8(read_bytes(path, max)?).map_err(|_| InputError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_folders_devices_fifos_and_large_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_text(dir.path(), MAX_INPUT_BYTES),
            Err(InputError::Folder)
        ));
        assert!(matches!(
            read_text(Path::new("/dev/zero"), MAX_INPUT_BYTES),
            Err(InputError::NotRegular("device"))
        ));
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.display().to_string()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_text(&fifo, MAX_INPUT_BYTES).unwrap_err();
        assert_eq!(e.to_string(), "a FIFO (named pipe), not a regular file");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 2048]).unwrap();
        assert_eq!(
            read_text(&big, 1024).unwrap_err().to_string(),
            "2 KiB large, at most 1 KiB allowed"
        );
        assert_eq!(read_text(&big, 2048).unwrap().len(), 2048);
        std::fs::write(&big, b"\xff\xfe").unwrap();
        assert!(matches!(read_text(&big, 1024), Err(InputError::NotUtf8)));
    }
}
