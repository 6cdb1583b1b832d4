//! A hash (field → value). Only its shape so far: what every collection answers (length,
//! bytes, encoding); its operations come with its commands.

/// A field and its value.
type Pair = (Box<[u8]>, Box<[u8]>);

/// A hash (field → value).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hash {
    items: Vec<Pair>,
    /// Running byte total (see [`Value::mem`](crate::store::Value::mem)).
    mem: usize,
}

impl Hash {
    /// An empty one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Elements held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Bytes charged for it, kept as it changes.
    pub fn mem(&self) -> usize {
        self.mem
    }

    /// What OBJECT ENCODING says of it.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
