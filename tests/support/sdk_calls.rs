//! What the code asks of AWS and of its environment, found in `src/` (read with
//! [`super::source_calls`]), not listed by hand: the AWS operations it can call,
//! as IAM actions, and the environment variables it reads.
//!
//! Every argument-less `.<name>()` in `src/**/*.rs` whose `<name>` is an
//! operation of one of the AWS SDK crates the package depends on — a file
//! `src/operation/<name>.rs` of that crate, located with `cargo metadata` — is a
//! call. The crate gives the IAM prefix (its signing name) and the operation
//! file the action name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::localaws::repo;
use super::source_calls::{rust_files, Source};

/// One AWS SDK crate the package depends on.
pub struct SdkCrate {
    pub name: String,
    dir: PathBuf,
    /// The IAM service prefix: the SigV4 signing name (`route53`, `ecs`, `ec2`).
    iam_prefix: String,
}

impl SdkCrate {
    /// The action of operation `snake`, when the crate has that operation.
    pub fn action(&self, snake: &str) -> Option<String> {
        let file = self.dir.join("src/operation").join(format!("{snake}.rs"));
        let text = std::fs::read_to_string(&file).ok()?;
        let name = first_string_after(&text, "Metadata::new(").unwrap_or_else(|| {
            panic!(
                "{}: no `Metadata::new(\"<Operation>\", …)`: has the SDK's generated code changed?",
                file.display()
            )
        });
        Some(format!("{}:{}", self.iam_prefix, name))
    }
}

/// The standard output of `cmd`, which must succeed.
pub fn command_output(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The `aws-sdk-*` crates among the package's normal dependencies, located on disk
/// with `cargo metadata` (offline: the build has fetched them already).
pub fn sdk_crates() -> Vec<SdkCrate> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = command_output(Command::new(rustc).arg("-vV"));
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("`rustc -vV` names the host");
    let metadata: Value = serde_json::from_str(&command_output(
        Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline", "--locked"])
            .args(["--filter-platform", host])
            .arg("--manifest-path")
            .arg(repo().join("Cargo.toml")),
    ))
    .expect("cargo metadata prints JSON");

    let root = metadata["resolve"]["root"].as_str().expect("resolve.root");
    let node = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes")
        .iter()
        .find(|n| n["id"] == root)
        .expect("the package's resolve node");
    let packages = metadata["packages"].as_array().expect("packages");
    let mut crates = Vec::new();
    for dep in node["deps"].as_array().expect("deps") {
        let normal = dep["dep_kinds"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()));
        let package = packages
            .iter()
            .find(|p| p["id"] == dep["pkg"])
            .expect("the dependency's package");
        let name = package["name"].as_str().expect("package name");
        if !normal || !name.starts_with("aws-sdk-") {
            continue;
        }
        let manifest = package["manifest_path"].as_str().expect("manifest_path");
        let dir = Path::new(manifest)
            .parent()
            .expect("crate dir")
            .to_path_buf();
        let config = std::fs::read_to_string(dir.join("src/config.rs"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join("src/config.rs").display()));
        let iam_prefix = first_string_after(&config, "SigningName::from_static(")
            .unwrap_or_else(|| panic!("{name}: no SigningName in src/config.rs"));
        crates.push(SdkCrate {
            name: name.to_string(),
            dir,
            iam_prefix,
        });
    }
    crates
}

/// The first string literal after `marker` in `text`.
fn first_string_after(text: &str, marker: &str) -> Option<String> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let start = rest.find('"')? + 1;
    let end = rest[start..].find('"')? + start;
    Some(rest[start..end].to_string())
}

/// The package's Rust sources, `src/**/*.rs`, each parsed, with its path
/// relative to the package.
pub fn sources() -> Vec<(String, PathBuf, Source)> {
    let files = rust_files(&repo().join("src"));
    assert!(!files.is_empty(), "no Rust sources under src/");
    files
        .into_iter()
        .map(|file| {
            let relative = file
                .strip_prefix(repo())
                .unwrap_or(&file)
                .display()
                .to_string();
            let source = Source::read(&file);
            (relative, file, source)
        })
        .collect()
}

/// The AWS operations the code can call, as IAM actions, each with where
/// (`src/…:line`).
pub fn code_calls() -> BTreeMap<String, BTreeSet<String>> {
    let sdks = sdk_crates();
    let names: Vec<&str> = sdks.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "aws-sdk-route53",
        "aws-sdk-ecs",
        "aws-sdk-ec2",
        "aws-sdk-servicediscovery",
    ] {
        assert!(
            names.contains(&expected),
            "cargo metadata lists no {expected} among the dependencies: {names:?}"
        );
    }

    let mut calls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (relative, _, source) in sources() {
        for (method, line) in source.calls() {
            let found: Vec<(&SdkCrate, String)> = sdks
                .iter()
                .filter_map(|s| s.action(&method).map(|a| (s, a)))
                .collect();
            let action = match found.as_slice() {
                [] => continue,
                [(_, action)] => action.clone(),
                several => {
                    // The same operation name in several SDKs: the file's own
                    // `aws_sdk_*` paths say which client it holds.
                    let used: Vec<&(&SdkCrate, String)> = several
                        .iter()
                        .filter(|(s, _)| source.names(&s.name.replace('-', "_")))
                        .collect();
                    match used.as_slice() {
                        [(_, action)] => action.clone(),
                        _ => panic!(
                            "{relative}:{line}: `.{method}()` is an operation of {:?}; cannot tell which \
                             client it is called on: name the client's crate in this file only once",
                            several.iter().map(|(s, _)| &s.name).collect::<Vec<_>>()
                        ),
                    }
                }
            };
            calls
                .entry(action)
                .or_default()
                .insert(format!("{relative}:{line}"));
        }
    }
    calls
}

/// Environment variables the code reads: the upper-case names quoted in
/// src/config.rs, and any `env::var("…")` / `env::var_os("…")` elsewhere; the
/// standard AWS_* and RUST_* ones left out.
pub fn variables_the_code_reads() -> BTreeSet<String> {
    let looks_like_variable = |s: &str| {
        s.len() > 3
            && s.contains('_')
            && s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && !s.starts_with("AWS_")
            && !s.starts_with("RUST_")
    };
    let mut names = BTreeSet::new();
    for (_, file, source) in sources() {
        let quoted: &[String] = if file.ends_with("src/config.rs") {
            source.strings()
        } else {
            source.env_reads()
        };
        names.extend(quoted.iter().filter(|s| looks_like_variable(s)).cloned());
    }
    names
}
