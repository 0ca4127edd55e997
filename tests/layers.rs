//! Imports point down. The layer order of `src/` is written once, here ([`LAYERS`], bottom
//! first); a module may name (`crate::…`, `super::…`) only modules of lower layers and its own
//! submodules, and no files may name each other in a circle (a `mod.rs` naming its own
//! submodules is declaration, not an arrow). Test code (`#[cfg(test)] mod tests`, `tests.rs`)
//! is left out: tests may reach up to render what they check.
//!
//! `docs/ARCHITECTURE.md` shows the same layers; a new top-level module must be placed here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules of `src/`, bottom layer first. Modules of one layer don't import each other.
const LAYERS: &[&[&str]] = &[
    &[
        "text",
        "secrets",
        "units",
        "histogram",
        "interrupt",
        "error",
        "flow",
        "schedule",
    ],
    &["limits"],
    &["input"],
    &["thresholds", "contract"],
    &["server"],
    &["record"],
    &["phases", "profile", "console"],
    &["conclude", "compare", "shard"],
    // The engines and the outputs: independent of each other (exporters read only records).
    &[
        "attack",
        "merge",
        "reference_api",
        "export",
        "bench_summary",
    ],
    &["cli"],
    &["commands"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Module path of a source file: `src/export/markdown.rs` → `["export", "markdown"]`,
/// `src/export/mod.rs` → `["export"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The file that defines module `path` (or the nearest enclosing module that does).
fn file_of(src: &Path, path: &[String]) -> Option<PathBuf> {
    for n in (1..=path.len()).rev() {
        let base = src.join(path[..n].join("/"));
        for f in [base.with_extension("rs"), base.join("mod.rs")] {
            if f.is_file() {
                return Some(f);
            }
        }
    }
    None
}

/// Source without comments, string literals and `#[cfg(test)]` modules.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            let next = lines
                .peek()
                .map(|l| l.trim().to_string())
                .unwrap_or_default();
            if next.starts_with("mod ") && next.ends_with('{') {
                // Skip the module up to its closing brace (depth counted on braces).
                let mut depth = 0i32;
                for l in lines.by_ref() {
                    depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                    if depth <= 0 && l.contains('}') {
                        break;
                    }
                }
                continue;
            }
        }
        let mut kept = String::new();
        let mut in_str = false;
        let mut prev = ' ';
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && prev != '\'' {
                in_str = !in_str;
            } else if !in_str {
                kept.push(c);
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e` (enough of Rust's use syntax
/// to resolve files).
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else {
        return vec![path.trim().trim_end_matches("::").to_string()];
    };
    let prefix = &path[..open];
    let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|i| !i.is_empty() && *i != "self")
        .flat_map(|i| expand(&format!("{prefix}{i}")))
        .collect()
}

/// Every module path a file names: `crate::…` anywhere, `super::…` relative to the file.
fn references(code: &str, own: &[String]) -> Vec<Vec<String>> {
    // Join `use` statements onto one line so brace groups can be expanded.
    let flat = code.replace('\n', " ");
    let mut found = Vec::new();
    for anchor in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(pos) = flat[from..].find(anchor) {
            let at = from + pos;
            from = at + anchor.len();
            if at > 0 {
                let before = flat[..at].chars().next_back().unwrap();
                if before.is_alphanumeric() || before == '_' || before == ':' {
                    continue;
                }
            }
            // The path runs over identifiers, `::` and (for use trees) balanced braces.
            let rest = &flat[at..];
            let mut end = 0;
            let mut depth = 0;
            for (i, c) in rest.char_indices() {
                let ok = c.is_alphanumeric()
                    || matches!(c, '_' | ':')
                    || (depth > 0 && matches!(c, ',' | ' ' | '*'))
                    || c == '{'
                    || (c == '}' && depth > 0);
                if !ok {
                    break;
                }
                if c == '{' {
                    depth += 1;
                }
                if c == '}' {
                    depth -= 1;
                }
                end = i + c.len_utf8();
            }
            for p in expand(&rest[..end]) {
                let mut segs: Vec<String> = p
                    .split("::")
                    .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
                    .filter(|s| !s.is_empty() && s != "*")
                    .collect();
                if segs.first().is_some_and(|s| s == "crate") {
                    segs.remove(0);
                } else {
                    // `super` from a `mod.rs` is the parent of its module; from `x.rs`, the module
                    // that declares `x`.
                    let mut base = own.to_vec();
                    while segs.first().is_some_and(|s| s == "super") {
                        segs.remove(0);
                        base.pop();
                    }
                    base.extend(segs);
                    segs = base;
                }
                if !segs.is_empty() {
                    found.push(segs);
                }
            }
        }
    }
    found
}

#[derive(Debug, Default)]
struct Findings {
    upward: Vec<String>,
    cycles: Vec<Vec<String>>,
}

fn check(src: &Path) -> Findings {
    let mut files = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut findings = Findings::default();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(src).unwrap();
        let name = rel.file_name().unwrap().to_string_lossy();
        if rel == Path::new("main.rs") || rel == Path::new("lib.rs") || name == "tests.rs" {
            continue;
        }
        let own = module_path(src, file);
        let top = own[0].clone();
        let Some(own_layer) = layer_of(&top) else {
            findings
                .upward
                .push(format!("{}: module `{top}` is in no layer", rel.display()));
            continue;
        };
        let is_mod_rs = name == "mod.rs";
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for path in references(&code, &own) {
            let other = &path[0];
            if other != &top {
                match layer_of(other) {
                    Some(l) if l < own_layer => {}
                    Some(_) => findings.upward.push(format!(
                        "{}: `{top}` imports `{}` from a layer that is not below it",
                        rel.display(),
                        path.join("::")
                    )),
                    // `crate::` followed by something that is no module (a macro, say).
                    None => {}
                }
            }
            let Some(target) = file_of(src, &path) else {
                continue;
            };
            let declares = is_mod_rs && path.starts_with(&own) && path.len() > own.len();
            if &target != file && !declares {
                edges.entry(file.clone()).or_default().insert(target);
            }
        }
    }
    findings.cycles = circles(&edges)
        .into_iter()
        .map(|c| {
            c.iter()
                .map(|p| p.strip_prefix(src).unwrap().display().to_string())
                .collect()
        })
        .collect();
    findings
}

/// Strongly connected components of more than one file (Tarjan).
fn circles(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct T<'a> {
        edges: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a PathBuf) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.edges.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// The tree checked: this crate's `src/`, or `LAYERS_SRC` (to check another checkout by hand).
fn src() -> PathBuf {
    std::env::var_os("LAYERS_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn every_import_points_down_and_no_files_import_each_other_in_a_circle() {
    let f = check(&src());
    assert!(
        f.upward.is_empty(),
        "upward imports:\n{}",
        f.upward.join("\n")
    );
    assert!(f.cycles.is_empty(), "import circles: {:?}", f.cycles);
}

/// A copy of `src/` to plant a bad import in.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut stack = vec![src()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            let to = dir.path().join(p.strip_prefix(src()).unwrap());
            if p.is_dir() {
                std::fs::create_dir_all(&to).unwrap();
                stack.push(p);
            } else {
                std::fs::copy(&p, &to).unwrap();
            }
        }
    }
    dir
}

fn plant(root: &Path, file: &str, line: &str) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{line}\n{text}")).unwrap();
}

#[test]
fn a_planted_upward_import_is_caught() {
    let dir = scratch();
    plant(dir.path(), "units.rs", "use crate::commands::run;");
    plant(
        dir.path(),
        "record.rs",
        "use crate::{error::Failure, export::{html::HtmlExporter, Exporter}};",
    );
    let f = check(dir.path());
    assert!(
        f.upward
            .iter()
            .any(|u| u.contains("units.rs") && u.contains("commands::run")),
        "{:?}",
        f.upward
    );
    assert!(
        f.upward
            .iter()
            .any(|u| u.contains("record.rs") && u.contains("export::html")),
        "{:?}",
        f.upward
    );
    assert!(
        !f.upward.iter().any(|u| u.contains("error::Failure")),
        "a downward import is fine: {:?}",
        f.upward
    );
}

#[test]
fn a_planted_circle_inside_one_module_is_caught() {
    let dir = scratch();
    // `export/markdown.rs` renders the server section from `export/server.rs`; the reverse
    // arrow closes a circle although both files are in one layer.
    plant(
        dir.path(),
        "export/server.rs",
        "use super::markdown::MarkdownExporter;",
    );
    let f = check(dir.path());
    assert!(f.upward.is_empty(), "{:?}", f.upward);
    assert!(
        f.cycles
            .iter()
            .any(|c| c.contains(&"export/server.rs".to_string())
                && c.contains(&"export/markdown.rs".to_string())),
        "{:?}",
        f.cycles
    );
}

#[test]
fn use_trees_expand_to_every_path() {
    assert_eq!(
        expand("crate::a::{b, c::{d, e}, self}"),
        vec!["crate::a::b", "crate::a::c::d", "crate::a::c::e"]
    );
    let own = vec!["export".to_string(), "markdown".to_string()];
    let refs = references(
        "use super::{server, fmt_ms};\nlet x = crate::text::sanitize(a, 3);",
        &own,
    );
    assert!(
        refs.contains(&vec!["export".into(), "server".into()]),
        "{refs:?}"
    );
    assert!(
        refs.contains(&vec!["text".into(), "sanitize".into()]),
        "{refs:?}"
    );
}

/// Small modules: no source file over 700 lines (test modules live in their own `tests.rs`).
#[test]
fn no_source_file_is_over_700_lines() {
    let mut long = Vec::new();
    let mut stack = vec![src()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") && !p.ends_with("tests.rs") {
                let lines = std::fs::read_to_string(&p).unwrap().lines().count();
                if lines > 700 {
                    long.push(format!("{}: {lines} lines", p.display()));
                }
            }
        }
    }
    assert!(long.is_empty(), "split these: {long:?}");
}
