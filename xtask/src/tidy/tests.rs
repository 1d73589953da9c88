//! Each rule, failing on a bad input and passing on a good one.

use super::*;

#[test]
fn clock_reads_are_rejected_outside_the_time_crate() {
    let code = "let start = std::time::Instant::now();\n";
    assert_eq!(clock_reads("crates/asynchronously-retry/src/retry.rs", code).len(), 1);
    assert_eq!(
        clock_reads("crates/asynchronously-gather/src/lib.rs", "use futures_timer::Delay;").len(),
        1
    );
    assert_eq!(
        clock_reads("crates/asynchronously-cache/src/ttl.rs", "SystemTime::UNIX_EPOCH").len(),
        1
    );
}

#[test]
fn clock_reads_are_allowed_in_the_time_crate_tests_and_comments() {
    let code = "let start = Instant::now();\n";
    assert!(clock_reads("crates/asynchronously-time/src/real_clock.rs", code).is_empty());
    assert!(clock_reads("tests/src/bench.rs", code).is_empty());
    assert!(
        clock_reads("crates/asynchronously-retry/src/lib.rs", "//! unlike Instant::now()")
            .is_empty()
    );
}

#[test]
fn leftovers_are_rejected_with_their_line() {
    let code = "fn a() {}\nstd::thread::sleep(d);\n#[ignore]\nfn b() { todo!() }\ndbg!(x);\n";
    let problems = leftovers("tests/src/retry.rs", code);
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems[0].starts_with("tests/src/retry.rs:2:"), "{problems:?}");
    assert!(leftovers("tests/src/retry.rs", "// never thread::sleep in tests\n").is_empty());
}

#[test]
fn only_the_real_blocking_clock_may_sleep_a_thread() {
    let code = "std::thread::sleep(duration);\ntodo!();\n";
    assert_eq!(leftovers("crates/asynchronously-time/src/blocking.rs", code).len(), 1);
    assert_eq!(leftovers("crates/asynchronously-time/src/real_clock.rs", code).len(), 2);
    assert_eq!(leftovers("crates/asynchronously-retry/src/blocking.rs", code).len(), 2);
}

#[test]
fn dependencies_outside_the_allow_list_must_be_optional() {
    let bad = "[package]\nname = \"x\"\n\n[dependencies]\nfutures.workspace = true\ntokio = \"1\"\n\n[dev-dependencies]\nsmol = \"2\"\n";
    let problems = dependencies("crates/x/Cargo.toml", bad);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("`tokio`"));

    let good = "[dependencies]\nasynchronously-time.workspace = true\nthiserror.workspace = true\ntracing = { version = \"0.1\", optional = true }\n[dev-dependencies]\ntokio.workspace = true\n";
    assert!(dependencies("crates/x/Cargo.toml", good).is_empty());
}

#[test]
fn manifests_must_inherit_package_fields_and_lints() {
    let bad = "[package]\nname = \"x\"\nversion = \"0.1.0\"\nedition.workspace = true\n";
    let problems = inherits_workspace("crates/x/Cargo.toml", bad);
    assert_eq!(problems.len(), 4, "{problems:?}");
    let good = "[package]\nversion.workspace = true\nedition.workspace = true\nrust-version.workspace = true\nlicense.workspace = true\n\n[lints]\nworkspace = true\n";
    assert!(inherits_workspace("crates/x/Cargo.toml", good).is_empty());
}

#[test]
fn only_listed_adapters_may_declare_their_own_rust_version() {
    let own = "[package]\nversion.workspace = true\nedition.workspace = true\nrust-version = \"1.88\"\nlicense.workspace = true\n\n[lints]\nworkspace = true\n";
    assert!(inherits_workspace("crates/asynchronously-redis/Cargo.toml", own).is_empty());
    let problems = inherits_workspace("crates/asynchronously-cache/Cargo.toml", own);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("rust-version.workspace = true"));
    let missing = "[package]\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\n\n[lints]\nworkspace = true\n";
    assert_eq!(inherits_workspace("crates/asynchronously-redis/Cargo.toml", missing).len(), 1);
}

#[test]
fn lib_rs_must_open_with_docs_and_forbid_unsafe() {
    assert_eq!(lib_header("crates/x/src/lib.rs", "mod a;\n").len(), 2);
    assert!(lib_header("crates/x/src/lib.rs", "//! Docs.\n#![forbid(unsafe_code)]\n").is_empty());
}

#[test]
fn runtimes_among_normal_dependencies_are_rejected() {
    let tree = "asynchronously v0.1.0 (/w/crates/asynchronously)\nfutures v0.3.31\ntokio v1.45.0\ntokio v1.45.0\n";
    let problems = runtime_dependencies(tree);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("`tokio`"));
    assert!(runtime_dependencies("asynchronously v0.1.0\nfutures v0.3.31\n").is_empty());
}

#[test]
fn runtimes_are_allowed_only_as_the_optional_clocks_of_the_time_and_gather_crates() {
    let tree = "0asynchronously v0.1.0 (/w/crates/asynchronously)\n\
                1asynchronously-time v0.1.0 (/w/crates/asynchronously-time)\n\
                2async-io v2.6.0\n\
                3async-executor v1.0.0\n\
                2tokio v1.54.1\n\
                1asynchronously-gather v0.1.0 (/w/crates/asynchronously-gather)\n\
                2tokio v1.54.1 (*)\n\
                2futures v0.3.31\n";
    assert!(runtime_dependencies(tree).is_empty(), "{:?}", runtime_dependencies(tree));
    let problems = default_runtime_dependencies(tree);
    assert_eq!(problems.len(), 3, "none is allowed by default: {problems:?}");
    assert!(problems[0].contains("with default features"));

    let elsewhere = "0asynchronously v0.1.0 (/w/crates/asynchronously)\n\
                     1asynchronously-retry v0.1.0 (/w/crates/asynchronously-retry)\n\
                     2tokio v1.54.1\n\
                     1asynchronously-time v0.1.0 (/w/crates/asynchronously-time)\n\
                     2futures-timer v3.0.3\n\
                     3smol v2.0.0\n";
    let problems = runtime_dependencies(elsewhere);
    assert_eq!(problems.len(), 2, "tokio under retry, smol under futures-timer: {problems:?}");
    assert!(problems[0].contains("`smol`") && problems[1].contains("`tokio`"));
}

fn complete_layout() -> Layout {
    Layout {
        crate_dirs: vec![
            "asynchronously".into(),
            "asynchronously-time".into(),
            "asynchronously-retry".into(),
        ],
        facade_manifest: "[features]\nretry = [\"dep:asynchronously-retry\"]\n".into(),
        facade_lib: "pub use asynchronously_retry as retry;\n".into(),
        guides: vec!["retry.md".into()],
        test_modules: vec!["retry.rs".into()],
        benches: vec!["retry.rs".into()],
        architecture: "### `crates/asynchronously-retry`\n".into(),
    }
}

#[test]
fn capability_layout_accepts_a_complete_capability() {
    assert_eq!(capability_layout(&["retry"], &complete_layout()), Vec::<String>::new());
}

#[test]
fn capability_layout_names_every_missing_spelling() {
    let layout = Layout { crate_dirs: vec!["asynchronously-retry".into()], ..Layout::default() };
    let problems = capability_layout(&["retry"], &layout);
    assert_eq!(problems.len(), 6, "{problems:?}");
    assert!(problems.iter().any(|problem| problem.contains("docs/guide/retry.md")));
}

#[test]
fn capability_layout_rejects_a_crate_missing_from_the_list() {
    let mut layout = complete_layout();
    layout.crate_dirs.push("asynchronously-cache".into());
    let problems = capability_layout(&["retry"], &layout);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("`cache`"));
}

#[test]
fn capability_layout_does_not_require_adapters_in_the_list() {
    let mut layout = complete_layout();
    layout.crate_dirs.push("asynchronously-redis".into());
    assert_eq!(capability_layout(&["retry"], &layout), Vec::<String>::new());
}

#[test]
fn doc_examples_use_facade_paths() {
    let bad = "/// ```\n/// use asynchronously_retry::RetryPolicy;\n/// ```\npub struct X;\n";
    let problems = facade_doc_paths("crates/asynchronously-retry/src/lib.rs", bad);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("asynchronously::retry"), "{problems:?}");

    let good = "//! [`Clock`](asynchronously_time::Clock) and [c]\n//!\n//! [c]: asynchronously_time::Clock\n/// use asynchronously::retry::RetryPolicy;\nuse asynchronously_time::Clock;\n";
    assert!(facade_doc_paths("crates/asynchronously-retry/src/lib.rs", good).is_empty());
    assert!(facade_doc_paths("tests/src/retry.rs", bad).is_empty());
}

#[test]
fn leaf_modules_name_no_sibling() {
    let limit = "crates/asynchronously-gather/src/limit.rs";
    let bad = "use std::fmt;\n        crate::gather::gather_limited(futures, self)\n";
    assert_eq!(leaf_modules(limit, bad).len(), 1);
    let good =
        "/// [`gather`](crate::gather())\n// crate::gather is not named here\nuse std::fmt;\n";
    assert!(leaf_modules(limit, good).is_empty());
    assert!(leaf_modules("crates/asynchronously-gather/src/gather.rs", bad).is_empty());
}
