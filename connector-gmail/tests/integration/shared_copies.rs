//! The repository's copies of the provider contracts and the MIME corpus equal the shared
//! originals in `../shared` (when that folder exists: a fresh clone has only the copies).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn assert_same_tree(original: &Path, copy: &Path) {
    let (a, b) = (files(original), files(copy));
    let only_original: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_copy: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    assert!(
        only_original.is_empty() && only_copy.is_empty(),
        "{} vs {}: missing in the copy {only_original:?}, extra in the copy {only_copy:?}",
        original.display(),
        copy.display()
    );
    for (rel, bytes) in &a {
        assert!(
            bytes == &b[rel],
            "{} differs from the original",
            copy.join(rel).display()
        );
    }
}

#[test]
fn copies_equal_the_shared_originals_when_present() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = here.join("../../shared");
    if !shared.is_dir() {
        return; // a fresh clone: only the copies exist
    }
    assert_same_tree(&shared.join("contracts"), &here.join("../tests/contracts"));
    assert_same_tree(
        &shared.join("corpora/mime"),
        &here.join("../tests/corpora/mime"),
    );
}
