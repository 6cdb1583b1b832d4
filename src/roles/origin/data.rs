//! Where the origin's values come from: the built-in sample set or the
//! files under `--data DIR`, looked up by key = relative path.
//!
//! Files are read on demand through glommio's `BufferedFile` (io_uring
//! `openat` + buffered `read`), so a page-cache miss on a slow disk parks
//! only the request that asked, never the executor that serves every other
//! connection. Not `DmaFile`: O_DIRECT is refused by tmpfs and overlayfs
//! (where test and container data live) and would need aligned buffers from
//! the small io_uring memory pool. Not `std::fs::read`: it blocks the one
//! executor thread for the whole read.

use super::sample;
use glommio::io::{BufferedFile, OpenOptions};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Longest key accepted (Linux's PATH_MAX is 4096; keys are much shorter).
pub const MAX_KEY: usize = 1024;

/// Why a key can never name a value; checked before any lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The empty key.
    #[error("empty key")]
    Empty,
    /// Longer than [`MAX_KEY`].
    #[error("key longer than {MAX_KEY} bytes")]
    TooLong,
    /// Starts with `/`.
    #[error("absolute paths are not keys")]
    Absolute,
    /// Has a `..` segment.
    #[error("'..' is not allowed in keys")]
    ParentDir,
    /// Has an empty (`a//b`, trailing `/`) or `.` segment.
    #[error("empty or '.' path segment")]
    EmptySegment,
    /// Contains a NUL byte, which no path can.
    #[error("NUL byte in key")]
    Nul,
}

/// Check that `key` is a clean relative path: segments separated by `/`,
/// none empty, `.` or `..`. The same rules hold for the sample set, so a key
/// means the same thing whichever source serves it.
///
/// # Errors
/// The first [`KeyError`] found.
pub fn validate_key(key: &[u8]) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY {
        return Err(KeyError::TooLong);
    }
    if key.contains(&0) {
        return Err(KeyError::Nul);
    }
    if key[0] == b'/' {
        return Err(KeyError::Absolute);
    }
    for seg in key.split(|&b| b == b'/') {
        match seg {
            b".." => return Err(KeyError::ParentDir),
            b"" | b"." => return Err(KeyError::EmptySegment),
            _ => {}
        }
    }
    Ok(())
}

/// Why a valid key could not be served.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The key is malformed.
    #[error("invalid key: {0}")]
    Key(#[from] KeyError),
    /// The key resolves (through a symlink) outside the data directory.
    #[error("invalid key: resolves outside the data directory")]
    Outside,
    /// The file is larger than `--max-value`.
    #[error("value too large ({size} bytes; --max-value is {max})")]
    TooLarge {
        /// File size.
        size: u64,
        /// The limit.
        max: usize,
    },
    /// Reading failed (permissions, I/O error).
    #[error("read failed: {0}")]
    Io(String),
}

impl FetchError {
    /// Whether the client asked for something that can never exist (as
    /// opposed to the origin failing to read it).
    pub fn is_bad_key(&self) -> bool {
        matches!(self, FetchError::Key(_) | FetchError::Outside)
    }
}

/// The data set an origin serves.
pub enum Source {
    /// The generated sample set (see [`sample`]).
    Sample(HashMap<Vec<u8>, Vec<u8>>),
    /// Files under a directory, canonicalised at start.
    Dir(PathBuf),
}

impl Source {
    /// The built-in sample data set.
    pub fn sample() -> Source {
        let map = sample::entries()
            .into_iter()
            .map(|(k, v)| (k.into_bytes(), v))
            .collect();
        Source::Sample(map)
    }

    /// Files under `dir`.
    ///
    /// # Errors
    /// `dir` does not exist or is not a directory.
    pub fn dir(dir: &Path) -> io::Result<Source> {
        let root = std::fs::canonicalize(dir)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a directory",
            ));
        }
        Ok(Source::Dir(root))
    }

    /// A short description for logs and METRICS.
    pub fn describe(&self) -> String {
        match self {
            Source::Sample(m) => format!(
                "built-in sample ({} keys: article/1..{}, user/1..{}, blob/1..{})",
                m.len(),
                sample::ARTICLES,
                sample::USERS,
                sample::BLOBS
            ),
            Source::Dir(root) => format!("files under {}", root.display()),
        }
    }

    /// Look up `key`: `Ok(None)` when no value has that key.
    ///
    /// # Errors
    /// A [`FetchError`] for a malformed key or an unreadable file.
    pub async fn fetch(&self, key: &[u8], max: usize) -> Result<Option<Vec<u8>>, FetchError> {
        validate_key(key)?;
        match self {
            Source::Sample(map) => Ok(map.get(key).cloned()),
            Source::Dir(root) => read_file(root, key, max).await,
        }
    }
}

async fn read_file(root: &Path, key: &[u8], max: usize) -> Result<Option<Vec<u8>>, FetchError> {
    let path = root.join(OsStr::from_bytes(key));
    // O_NONBLOCK: opening a FIFO someone left in the tree must not wait for
    // a writer. It changes nothing for regular files.
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .buffered_open(&path)
        .await;
    let file = match opened {
        Ok(f) => f,
        Err(e) => {
            return match e.raw_os_error() {
                Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) => Ok(None),
                _ => Err(FetchError::Io(io::Error::from(e).to_string())),
            }
        }
    };
    let result = read_open(&file, root, max).await;
    let _ = file.close().await;
    result
}

async fn read_open(
    file: &BufferedFile,
    root: &Path,
    max: usize,
) -> Result<Option<Vec<u8>>, FetchError> {
    let fd = file.as_raw_fd();
    // Ask the kernel which file we actually opened: a symlink anywhere in
    // the path may point out of the data directory, and checking the opened
    // fd (not the path) leaves no window for a swap between check and use.
    // Both calls are metadata lookups on an open fd, answered from memory.
    let real = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_err(|e| FetchError::Io(e.to_string()))?;
    if !real.starts_with(root) {
        return Err(FetchError::Outside);
    }
    // SAFETY: fstat on an fd we own, into a zeroed struct of the right type.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(FetchError::Io(io::Error::last_os_error().to_string()));
    }
    // Directories, sockets and FIFOs are not values.
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(None);
    }
    let size = st.st_size as u64;
    if size > max as u64 {
        return Err(FetchError::TooLarge { size, max });
    }
    let mut value = Vec::with_capacity(size as usize);
    // A file that shrinks while we read ends early; one that grows is cut at
    // the size we saw, so a value never exceeds the limit.
    while (value.len() as u64) < size {
        let want = size as usize - value.len();
        let chunk = file
            .read_at(value.len() as u64, want)
            .await
            .map_err(|e| FetchError::Io(io::Error::from(e).to_string()))?;
        if chunk.is_empty() {
            break;
        }
        value.extend_from_slice(&chunk);
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in ["a", "article/1", "a/b/c.txt", "..a", "a..", "a/.b", "a b"] {
            assert_eq!(validate_key(ok.as_bytes()), Ok(()), "{ok}");
        }
        let bad: &[(&[u8], KeyError)] = &[
            (b"", KeyError::Empty),
            (b"/etc/passwd", KeyError::Absolute),
            (b"..", KeyError::ParentDir),
            (b"../x", KeyError::ParentDir),
            (b"a/../../x", KeyError::ParentDir),
            (b"a/..", KeyError::ParentDir),
            (b"a//b", KeyError::EmptySegment),
            (b"a/", KeyError::EmptySegment),
            (b"./a", KeyError::EmptySegment),
            (b"a\0b", KeyError::Nul),
        ];
        for (key, want) in bad {
            assert_eq!(validate_key(key).as_ref(), Err(want), "{key:?}");
        }
        assert_eq!(validate_key(&[b'a'; MAX_KEY]), Ok(()));
        assert_eq!(validate_key(&[b'a'; MAX_KEY + 1]), Err(KeyError::TooLong));
    }

    #[test]
    fn sample_source_serves_generated_values() {
        let s = Source::sample();
        let Source::Sample(map) = &s else { panic!() };
        assert_eq!(
            map.get(b"article/1".as_slice()),
            Some(&sample::article(1).into_bytes())
        );
        assert!(s.describe().contains("160 keys"));
    }
}
