//! A list. Only its shape so far: what every collection answers (length,
//! bytes, encoding); its operations come with its commands.

/// A list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct List {
    items: Vec<Box<[u8]>>,
    /// Running byte total (see [`Value::mem`](crate::store::Value::mem)).
    mem: usize,
}

impl List {
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
        "quicklist"
    }
}
