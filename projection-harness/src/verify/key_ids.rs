//! Small ids for the keys of a history: the checks index arrays by key id
//! instead of hashing key strings for every record of every group.

use super::FastMap;

/// Small ids for the keys of a history, the absent key included.
pub(crate) struct KeyIds<'a> {
    /// The key of each id.
    pub(crate) names: Vec<Option<&'a str>>,
    /// The id of each record's key, by record index.
    pub(crate) of_record: Vec<usize>,
    /// The id of the absent key.
    pub(crate) no_key: usize,
    /// Every id, in key order (no key first): the order violations are
    /// looked for in.
    pub(crate) sorted: Vec<usize>,
}

impl<'a> KeyIds<'a> {
    pub(crate) fn new(record_keys: impl Iterator<Item = Option<&'a str>>) -> KeyIds<'a> {
        let mut ids: FastMap<Option<&'a str>, usize> = FastMap::from_iter([(None, 0)]);
        let mut names = vec![None];
        let of_record = record_keys
            .map(|key| {
                *ids.entry(key).or_insert_with(|| {
                    names.push(key);
                    names.len() - 1
                })
            })
            .collect();
        let mut sorted: Vec<usize> = (0..names.len()).collect();
        sorted.sort_unstable_by_key(|&id| names[id]);
        KeyIds { names, of_record, no_key: 0, sorted }
    }

    pub(crate) fn count(&self) -> usize {
        self.names.len()
    }
}
