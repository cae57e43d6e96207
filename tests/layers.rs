//! The layer rule, checked: a module under `src/` imports only modules below it.
//!
//! Bottom up (`src/lib.rs` says why each layer is where it is):
//!
//! vocabulary (`clock`, `command`, `event`, `filter`, `outcome`, `callback`, `shutdown`, `logging`)
//! → `authz` → `settings` → `storage` → `buildbot` → `text` → `delivery` → `notify`
//! → `telegram` → `app`
//!
//! Vocabulary leaves may use each other; every other layer only what is strictly below it.
//! Test modules (everything after a file's `#[cfg(test)]`) may reach anywhere, and comments
//! are not imports. A new top-level module must be given a layer here.

use std::fs;
use std::path::{Path, PathBuf};

const VOCABULARY: [&str; 8] = [
    "clock", "command", "event", "filter", "outcome", "callback", "shutdown", "logging",
];
const LAYERS: [&str; 10] = [
    "authz", "settings", "storage", "buildbot", "text", "delivery", "notify", "telegram", "app",
    "main",
];

/// The layer of a top-level module: 0 for vocabulary, then 1.. in order.
fn layer(module: &str) -> Option<usize> {
    if VOCABULARY.contains(&module) {
        return Some(0);
    }
    LAYERS.iter().position(|l| *l == module).map(|i| i + 1)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a line of code names through `crate::`.
fn named_modules(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let preceded_by_ident = rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !preceded_by_ident && !name.is_empty() {
            found.push(name);
        }
        rest = after;
    }
    found
}

#[test]
fn every_import_points_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    let mut unplaced = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src/");
        let first = relative.components().next().expect("a path");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let Some(mine) = layer(&module) else {
            unplaced.push(module);
            continue;
        };
        let text = fs::read_to_string(file).expect("a readable source file");
        for (number, line) in text.lines().enumerate() {
            if line.contains("#[cfg(test)]") {
                break;
            }
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for other in named_modules(code) {
                let Some(theirs) = layer(&other) else {
                    unplaced.push(other);
                    continue;
                };
                let allowed = other == module || theirs < mine || (mine == 0 && theirs == 0);
                if !allowed {
                    upward.push(format!(
                        "{}:{}: {module} imports {other}",
                        relative.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    unplaced.sort();
    unplaced.dedup();
    assert!(
        unplaced.is_empty(),
        "give these modules a layer in tests/layers.rs: {unplaced:?}"
    );
    assert!(
        upward.is_empty(),
        "imports that point up the layers:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_checker_sees_imports() {
    assert_eq!(named_modules("use crate::text;"), ["text"]);
    assert_eq!(
        named_modules("let x = crate::clock::now() + crate::event::Event::ALL.len();"),
        ["clock", "event"]
    );
    assert!(named_modules("use buildbot_telegram::text;").is_empty());
    assert!(named_modules("let s = notcrate::x;").is_empty());
    assert_eq!(layer("clock"), Some(0));
    assert_eq!(layer("authz"), Some(1));
    assert_eq!(layer("nowhere"), None);
    assert!(layer("telegram") > layer("notify") && layer("authz") > layer("event"));
}
