//! `cargo xtask tidy`: the architecture rules a command can check.
//!
//! Each rule is a pure function from file contents to a list of problems, so its unit tests
//! (in `tidy/tests.rs`) show it failing on a bad input. `run` gathers the inputs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ci::CAPABILITIES;
use crate::root;

/// Normal (non-dev) dependencies a crate under `crates/` may have without a feature.
const ALLOWED_DEPENDENCIES: &[&str] =
    &["futures", "futures-timer", "async-lock", "event-listener", "pin-project", "thiserror"];

/// Adapter crates sit beside the facade and may depend on their ecosystem as well: each entry is
/// a folder under `crates/` and the extra required dependencies it may have.
const ADAPTER_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("crates/asynchronously-tower/", &["tower", "tower-layer", "tower-service"]),
    ("crates/asynchronously-redis/", &["redis"]),
];

/// Adapter crates that declare their own `rust-version` (their ecosystem's floor is above the
/// workspace's) instead of inheriting it.
const OWN_RUST_VERSION: &[&str] = &["crates/asynchronously-redis/"];

/// Runtime crates: none may be a normal dependency of the facade.
const RUNTIME_CRATES: &[&str] =
    &["tokio", "smol", "async-std", "async-io", "async-executor", "async-global-executor"];

/// The runtime-native pieces the facade forwards as optional features (`tokio`, `async-io`):
/// under `--all-features` a runtime crate may appear only as a direct dependency of these
/// crates, `(crate, runtime)`; with default features no runtime may appear at all.
const OPTIONAL_RUNTIME_DEPENDENCIES: &[(&str, &str)] = &[
    ("asynchronously-time", "tokio"),
    ("asynchronously-time", "async-io"),
    ("asynchronously-gather", "tokio"),
];

/// Reading real time: only `asynchronously-time` may.
const CLOCK_READS: &[&str] = &["Instant::now", "SystemTime", "futures_timer"];

/// Leftovers that have no place in tests or crates.
const LEFTOVERS: &[&str] = &["thread::sleep", "#[ignore", "todo!(", "dbg!(", "unimplemented!("];

/// The one file that may block a thread: `RealClock`'s `BlockingClock::sleep_blocking`.
const REAL_BLOCKING_SLEEP: &str = "crates/asynchronously-time/src/blocking.rs";

/// Package fields every crate inherits from `[workspace.package]`.
const INHERITED: &[&str] = &[
    "version.workspace = true",
    "edition.workspace = true",
    "rust-version.workspace = true",
    "license.workspace = true",
];

pub(crate) fn run() -> Result<(), String> {
    let root = root();
    let mut problems = Vec::new();

    let mut sources = Vec::new();
    collect_rust_files(&root.join("crates"), &mut sources);
    collect_rust_files(&root.join("tests"), &mut sources);
    for path in &sources {
        let text = read(path)?;
        let relative = relative(&root, path);
        problems.extend(clock_reads(&relative, &text));
        problems.extend(leftovers(&relative, &text));
        problems.extend(facade_doc_paths(&relative, &text));
        problems.extend(leaf_modules(&relative, &text));
    }

    let mut manifests = vec![root.join("tests/Cargo.toml"), root.join("xtask/Cargo.toml")];
    for crate_dir in crate_dirs(&root)? {
        let manifest = crate_dir.join("Cargo.toml");
        problems.extend(dependencies(&relative(&root, &manifest), &read(&manifest)?));
        let lib = crate_dir.join("src/lib.rs");
        problems.extend(lib_header(&relative(&root, &lib), &read(&lib)?));
        manifests.push(manifest);
    }
    for manifest in &manifests {
        problems.extend(inherits_workspace(&relative(&root, manifest), &read(manifest)?));
    }

    problems.extend(capability_layout(CAPABILITIES, &Layout::read(&root)?));
    problems.extend(runtime_dependencies(&cargo_tree(&root, true)?));
    problems.extend(default_runtime_dependencies(&cargo_tree(&root, false)?));

    if problems.is_empty() {
        crate::report("tidy: ok");
        Ok(())
    } else {
        Err(format!("tidy found {} problem(s):\n  {}", problems.len(), problems.join("\n  ")))
    }
}

/// No clock reads outside `crates/asynchronously-time`: everything else uses the `Clock`.
pub(crate) fn clock_reads(path: &str, text: &str) -> Vec<String> {
    if !path.starts_with("crates/") || path.starts_with("crates/asynchronously-time/") {
        return Vec::new();
    }
    find_in_code(path, text, CLOCK_READS, "reads real time; go through the `Clock` instead")
}

/// No sleeps, ignored tests or debugging leftovers in crates and tests.
pub(crate) fn leftovers(path: &str, text: &str) -> Vec<String> {
    if path == REAL_BLOCKING_SLEEP {
        let needles: Vec<&str> =
            LEFTOVERS.iter().copied().filter(|needle| *needle != "thread::sleep").collect();
        return find_in_code(
            path,
            text,
            &needles,
            "is not allowed in crates or tests (STYLE.md §6)",
        );
    }
    find_in_code(path, text, LEFTOVERS, "is not allowed in crates or tests (STYLE.md §6)")
}

/// Every crate's normal dependencies come from the allow-list, or are optional.
pub(crate) fn dependencies(path: &str, manifest: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut in_dependencies = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if !in_dependencies || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
        let adapter_allows = ADAPTER_DEPENDENCIES
            .iter()
            .any(|(dir, extra)| path.starts_with(dir) && extra.contains(&name));
        let allowed = ALLOWED_DEPENDENCIES.contains(&name)
            || adapter_allows
            || name.starts_with("asynchronously")
            || line.contains("optional = true");
        if !allowed {
            problems.push(format!(
                "{path}: `{name}` is a required dependency outside the allow-list; make it \
                 optional behind a feature, or use one of {ALLOWED_DEPENDENCIES:?}"
            ));
        }
    }
    problems
}

/// Doc examples in `crates/` are written as a facade user pastes them: `asynchronously::retry::…`,
/// never `asynchronously_retry::…`, which does not resolve for someone who depends on the facade
/// only. Intra-doc link targets (`[x](asynchronously_time::Clock)`, `[x]: asynchronously_…`) are
/// resolved by rustdoc against the documented crate's own dependencies, so they keep crate paths.
pub(crate) fn facade_doc_paths(path: &str, text: &str) -> Vec<String> {
    if !path.starts_with("crates/") {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let Some(doc) = trimmed.strip_prefix("///").or_else(|| trimmed.strip_prefix("//!")) else {
            continue;
        };
        let mut rest = doc;
        while let Some(at) = rest.find("asynchronously_") {
            let before = &rest[..at];
            let is_link_target = before.ends_with("](") || before.ends_with("]: ");
            let word_start = !before.ends_with(|c: char| c.is_alphanumeric() || c == '_');
            if word_start && !is_link_target {
                let name: String =
                    rest[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let module = name.trim_start_matches("asynchronously_");
                problems.push(format!(
                    "{path}:{}: doc example uses `{name}`; write `asynchronously::{module}` so it \
                     pastes for a user of the facade",
                    index + 1
                ));
                break;
            }
            rest = &rest[at + "asynchronously_".len()..];
        }
    }
    problems
}

/// Modules that the rest of their crate builds on, and that name no other module of it (the
/// joins add their limited forms to `Limit` in their own files).
const LEAF_MODULES: &[&str] = &["crates/asynchronously-gather/src/limit.rs"];

/// A leaf module's code (comments aside) names no `crate::` or `super::` path.
pub(crate) fn leaf_modules(path: &str, text: &str) -> Vec<String> {
    if !LEAF_MODULES.contains(&path) {
        return Vec::new();
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.trim_start();
            !code.starts_with("//") && (code.contains("crate::") || code.contains("super::"))
        })
        .map(|(index, _)| {
            format!(
                "{path}:{}: a leaf module names no other module of its crate; put the code that \
                 needs one in that module (`impl Limit` blocks live beside each join)",
                index + 1
            )
        })
        .collect()
}

/// Every manifest inherits the workspace's package fields and lints.
pub(crate) fn inherits_workspace(path: &str, manifest: &str) -> Vec<String> {
    let lines: Vec<&str> = manifest.lines().map(str::trim).collect();
    let mut problems: Vec<String> = INHERITED
        .iter()
        .filter(|field| !lines.contains(field))
        .filter(|field| !declares_own_rust_version(path, &lines, field))
        .map(|field| format!("{path}: missing `{field}`"))
        .collect();
    let lints = lines.windows(2).any(|pair| pair == ["[lints]", "workspace = true"]);
    if !lints {
        problems.push(format!("{path}: missing `[lints]` with `workspace = true`"));
    }
    problems
}

/// An adapter in [`OWN_RUST_VERSION`] may replace the inherited `rust-version` with its own.
fn declares_own_rust_version(path: &str, lines: &[&str], field: &str) -> bool {
    field.starts_with("rust-version")
        && OWN_RUST_VERSION.iter().any(|dir| path.starts_with(dir))
        && lines.iter().any(|line| line.starts_with("rust-version = \""))
}

/// Every crate's `lib.rs` opens with crate docs and forbids unsafe code.
pub(crate) fn lib_header(path: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !text.starts_with("//!") {
        problems.push(format!("{path}: must start with `//!` crate documentation"));
    }
    if !text.contains("#![forbid(unsafe_code)]") {
        problems.push(format!("{path}: must contain `#![forbid(unsafe_code)]`"));
    }
    problems
}

/// `cargo tree -e normal --all-features` of the facade names no runtime crate, except the
/// optional runtime-native clocks of [`OPTIONAL_RUNTIME_DEPENDENCIES`] (and what they pull in).
/// Lines may carry cargo's `--prefix depth` number, which is how a crate's parent is known.
pub(crate) fn runtime_dependencies(tree: &str) -> Vec<String> {
    runtimes_in(tree, OPTIONAL_RUNTIME_DEPENDENCIES, "")
}

/// `cargo tree -e normal` of the facade with default features names no runtime crate at all:
/// the runtime-native clocks stay opt-in.
pub(crate) fn default_runtime_dependencies(tree: &str) -> Vec<String> {
    runtimes_in(tree, &[], " with default features")
}

fn runtimes_in(tree: &str, allowed: &[(&str, &str)], context: &str) -> Vec<String> {
    // `ancestors[d]` is the crate at depth `d` on the current path; `skip_below` the depth of
    // an allowed runtime whose subtree is its own business.
    let mut ancestors: Vec<&str> = Vec::new();
    let mut skip_below: Option<usize> = None;
    let mut found: Vec<&str> = Vec::new();
    for line in tree.lines() {
        let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let depth: Option<usize> = line[..digits].parse().ok();
        let Some(name) = line[digits..].split_whitespace().next() else { continue };
        if let Some(depth) = depth {
            ancestors.truncate(depth);
            ancestors.push(name);
            match skip_below {
                Some(top) if depth > top => continue,
                _ => skip_below = None,
            }
        }
        if !RUNTIME_CRATES.contains(&name) {
            continue;
        }
        let parent = depth.and_then(|depth| depth.checked_sub(1)).and_then(|p| ancestors.get(p));
        if parent.is_some_and(|parent| allowed.contains(&(*parent, name))) {
            skip_below = depth;
            continue;
        }
        found.push(name);
    }
    found.sort_unstable();
    found.dedup();
    found
        .into_iter()
        .map(|name| {
            format!(
                "`{name}` is a normal dependency of the facade{context}; runtimes may only be \
                 dev-dependencies (no crate depends on a runtime), or optional clock features \
                 of {OPTIONAL_RUNTIME_DEPENDENCIES:?}"
            )
        })
        .collect()
}

/// What the capability list is checked against.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    /// Folder names under `crates/`.
    pub(crate) crate_dirs: Vec<String>,
    /// `crates/asynchronously/Cargo.toml`.
    pub(crate) facade_manifest: String,
    /// `crates/asynchronously/src/lib.rs`.
    pub(crate) facade_lib: String,
    /// File names under `docs/guide/`.
    pub(crate) guides: Vec<String>,
    /// File names under `tests/src/`.
    pub(crate) test_modules: Vec<String>,
    /// File names under `tests/benches/`.
    pub(crate) benches: Vec<String>,
    /// `docs/ARCHITECTURE.md`.
    pub(crate) architecture: String,
}

impl Layout {
    fn read(root: &Path) -> Result<Layout, String> {
        Ok(Layout {
            crate_dirs: crate_dirs(root)?.iter().map(|dir| file_name(dir)).collect(),
            facade_manifest: read(&root.join("crates/asynchronously/Cargo.toml"))?,
            facade_lib: read(&root.join("crates/asynchronously/src/lib.rs"))?,
            guides: file_names(&root.join("docs/guide"))?,
            test_modules: file_names(&root.join("tests/src"))?,
            benches: file_names(&root.join("tests/benches"))?,
            architecture: read(&root.join("docs/ARCHITECTURE.md"))?,
        })
    }
}

/// One name, many spellings: each capability has its crate, facade feature and re-export,
/// guide, test module, bench and code-map heading, and every capability crate is listed.
pub(crate) fn capability_layout(capabilities: &[&str], layout: &Layout) -> Vec<String> {
    let mut problems = Vec::new();
    for capability in capabilities {
        let module = capability.replace('-', "_");
        let crate_name = format!("asynchronously-{capability}");
        let expectations = [
            (layout.crate_dirs.contains(&crate_name), format!("folder `crates/{crate_name}`")),
            (
                layout
                    .facade_manifest
                    .contains(&format!("\n{capability} = [\"dep:{crate_name}\"]")),
                format!("facade feature `{capability} = [\"dep:{crate_name}\"]`"),
            ),
            (
                layout
                    .facade_lib
                    .contains(&format!("pub use asynchronously_{module} as {module};")),
                format!("facade re-export `pub use asynchronously_{module} as {module};`"),
            ),
            (
                layout.guides.contains(&format!("{capability}.md")),
                format!("guide `docs/guide/{capability}.md`"),
            ),
            (
                layout.test_modules.contains(&format!("{module}.rs")),
                format!("test module `tests/src/{module}.rs`"),
            ),
            (
                layout.benches.contains(&format!("{module}.rs")),
                format!("bench `tests/benches/{module}.rs`"),
            ),
            (
                layout.architecture.contains(&format!("### `crates/{crate_name}`")),
                format!("code-map heading \"### `crates/{crate_name}`\" in docs/ARCHITECTURE.md"),
            ),
        ];
        for (present, what) in expectations {
            if !present {
                problems.push(format!("capability `{capability}` has no {what}"));
            }
        }
    }
    for dir in &layout.crate_dirs {
        let Some(capability) = dir.strip_prefix("asynchronously-") else { continue };
        // Adapter crates (see ADAPTER_DEPENDENCIES) sit beside the facade, not among capabilities.
        let adapter = format!("crates/{dir}/");
        if ADAPTER_DEPENDENCIES.iter().any(|(path, _)| *path == adapter) {
            continue;
        }
        if capability != "time" && !capabilities.contains(&capability) {
            problems.push(format!(
                "`crates/{dir}` is not in xtask's CAPABILITIES; add `{capability}` there"
            ));
        }
    }
    problems
}

/// Lines of code (comments and docs excluded) that contain any of `needles`.
fn find_in_code(path: &str, text: &str, needles: &[&str], why: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for needle in needles {
            if line.contains(needle) {
                problems.push(format!("{path}:{}: `{needle}` {why}", index + 1));
            }
        }
    }
    problems
}

fn cargo_tree(root: &Path, all_features: bool) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(["tree", "-e", "normal", "-p", "asynchronously"]);
    if all_features {
        // lifecycle's optional `signals` uses async-signal, whose async-io reactor runs on its
        // own thread and needs no executor; it is not a runtime users must run.
        command.args(["--all-features", "--prune", "async-signal"]);
        // The opt-in `redis` adapter runs on tokio or smol because the `redis` crate does (it is
        // off by default and not in `full`); the capabilities stay runtime-free.
        command.args(["--prune", "asynchronously-redis"]);
    }
    let output = command
        .args(["--prefix", "depth"])
        .current_dir(root)
        .output()
        .map_err(|error| format!("could not run cargo tree: {error}"))?;
    if !output.status.success() {
        return Err(format!("cargo tree failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn crate_dirs(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .map_err(|error| format!("cannot list crates/: {error}"))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            if file_name(&path) != "target" {
                collect_rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            out.push(path);
        }
    }
}

fn file_names(dir: &Path) -> Result<Vec<String>, String> {
    Ok(fs::read_dir(dir)
        .map_err(|error| format!("cannot list {}: {error}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| file_name(&entry.path()))
        .collect())
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

#[cfg(test)]
mod tests;
